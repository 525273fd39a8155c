// The HogVM oracle driver: runs Hog bytecode on PostHog's own VM (@posthog/hogvm, pinned in
// package-lock.json beside this file) and prints what happened, one JSON line per case.
//
// Input (stdin): one JSON object per line: {"bytecode": [...], "globals": {...}?, "timeout_ms": N?}.
// Output (stdout): one JSON object per line: {"stdout": [lines], "result": printHogValue(result) | null,
// "error": {"name", "message", "type"?} | null}.
//
// Host functions are given as PostHog's own `bin/hog` CLI gives them: `external.crypto` is Node's crypto
// module; `external.regex.match` is a regex test, with JavaScript's RegExp standing in for RE2 (the
// `(?i)` prefix PostHog's VM adds becomes the `i` flag); `external.regex.extract` (which the CLI lacks)
// returns the first group or the whole match. Async calls are answered like Hogref's test host:
// `sleep` with nothing, every other function with {name, args}.
'use strict'
const readline = require('readline')
const util = require('util')
const crypto = require('crypto')
const hogvm = require('@posthog/hogvm')

function toRegExp(regex) {
    let flags = ''
    let source = String(regex)
    while (source.startsWith('(?i)')) {
        flags = 'i'
        source = source.slice(4)
    }
    return new RegExp(source, flags)
}

const external = {
    regex: {
        match: (regex, value) => toRegExp(regex).test(value),
        extract: (regex, value) => {
            const m = toRegExp(regex).exec(value)
            if (!m) return ''
            return m.length > 1 ? (m[1] ?? '') : m[0]
        },
    },
    crypto,
}

const ASYNC_FUNCTIONS = ['fetch', 'postHogCapture', 'asyncEcho']

function runCase(input) {
    const lines = []
    const log = console.log
    console.log = (...args) => lines.push(util.format(...args))
    const options = {
        external,
        globals: input.globals ?? {},
        timeout: input.timeout_ms ?? 5000,
        asyncFunctions: Object.fromEntries(ASYNC_FUNCTIONS.map((n) => [n, async () => null])),
    }
    let out
    try {
        let state = input.bytecode
        for (;;) {
            const res = hogvm.exec(state, options)
            if (res.finished) {
                out = { stdout: lines, result: hogvm.printHogValue(res.result), error: null }
                break
            }
            if (res.error) {
                throw res.error
            }
            const name = res.asyncFunctionName
            const answer = name === 'sleep' ? undefined : { name, args: res.asyncFunctionArgs }
            res.state.stack.push(answer)
            state = res.state
        }
    } catch (e) {
        const error = { name: e && e.name ? String(e.name) : 'Error', message: e && e.message !== undefined ? String(e.message) : String(e) }
        if (e && e.type !== undefined) error.type = String(e.type)
        out = { stdout: lines, result: null, error }
    } finally {
        console.log = log
    }
    return out
}

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', (line) => {
    if (!line.trim()) return
    let out
    try {
        out = runCase(JSON.parse(line))
    } catch (e) {
        out = { stdout: [], result: null, error: { name: 'DriverError', message: String(e) } }
    }
    process.stdout.write(JSON.stringify(out) + '\n')
})
