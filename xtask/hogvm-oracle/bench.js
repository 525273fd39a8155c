// Times PostHog's VM (@posthog/hogvm) on bytecode programs, for `cargo xtask bench hog`.
// Input (stdin): a JSON array [{name, bytecode}]. Output: a JSON array [{name, mean_us, reps, result}].
// Each program runs once to warm up, then repeatedly for about MILLIS ms (argv[2], default 300), with the
// host functions PostHog's CLI gives (Node's crypto, a RegExp regex match).
'use strict'
const crypto = require('crypto')
const hogvm = require('@posthog/hogvm')

const external = { regex: { match: (r, v) => new RegExp(r.replace(/^\(\?i\)/, ''), r.startsWith('(?i)') ? 'i' : '').test(v) }, crypto }
const millis = Number(process.argv[2] || 300)
let input = ''
process.stdin.on('data', (d) => (input += d))
process.stdin.on('end', () => {
    const rows = []
    for (const { name, bytecode } of JSON.parse(input)) {
        // No time limit: the bench measures, it does not police (a loaded machine must not fail it).
        const run = () => hogvm.exec(bytecode, { external, timeout: 1e9 })
        const first = run()
        const result = first.finished ? hogvm.printHogValue(first.result) : String(first.error)
        const start = process.hrtime.bigint()
        let reps = 0
        while (Number(process.hrtime.bigint() - start) / 1e6 < millis || reps < 3) {
            run()
            reps += 1
        }
        const meanUs = Number(process.hrtime.bigint() - start) / 1e3 / reps
        rows.push({ name, mean_us: meanUs, reps, result })
    }
    process.stdout.write(JSON.stringify(rows) + '\n')
})
