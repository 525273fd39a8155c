"""Hogref's oracle driver: one process answers a whole corpus of HogQL parse requests.

Reads JSON lines on stdin and writes exactly one JSON line per request on stdout.

Requests:
  {"entry": "select"|"expr"|"order_expr"|"program", "src": "...", "backend": "rs"|"cpp", "positions": bool}
      -> the backend's parse result (AST JSON or error envelope), re-serialised on one line
  {"op": "time", "entry": ..., "src": ..., "backend": ..., "reps": N}
      -> {"mean_ns": float, "reps": N, "chars": n} (time.perf_counter_ns around N parses, after a warm-up)
  {"op": "versions"}
      -> {"hogql_parser_rs": "x.y.z", "hogql_parser": "x.y.z" | null, "python": "..."}

A backend that raises is reported as {"error": true, "type": "OracleException", "message": ...}.
"""

import importlib
import importlib.metadata
import json
import sys
import time

_MODULES = {"rs": "hogql_parser_rs", "cpp": "hogql_parser"}
_FUNCS = {
    "select": "parse_select_json",
    "expr": "parse_expr_json",
    "order_expr": "parse_order_expr_json",
    "program": "parse_program_json",
}
_loaded = {}


def _backend(name):
    if name not in _loaded:
        _loaded[name] = importlib.import_module(_MODULES[name])
    return _loaded[name]


def _parse_fn(backend, entry):
    return getattr(_backend(backend), _FUNCS[entry])


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _answer(req):
    op = req.get("op", "parse")
    if op == "versions":
        return {
            "hogql_parser_rs": _version("hogql-parser-rs"),
            "hogql_parser": _version("hogql-parser"),
            "python": sys.version.split()[0],
        }
    backend = req.get("backend", "rs")
    fn = _parse_fn(backend, req["entry"])
    src = req["src"]
    if op == "time":
        reps = max(1, int(req.get("reps", 100)))
        for _ in range(min(reps, 20)):
            fn(src)
        t0 = time.perf_counter_ns()
        for _ in range(reps):
            fn(src)
        t1 = time.perf_counter_ns()
        return {"mean_ns": (t1 - t0) / reps, "reps": reps, "chars": len(src)}
    positions = bool(req.get("positions", True))
    if backend == "cpp":
        out = fn(src, is_internal=not positions)
    else:
        out = fn(src)
    return json.loads(out)


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            result = _answer(json.loads(line))
        except Exception as exc:  # a crash of the oracle is an answer too, never a dead pipe
            result = {
                "error": True,
                "type": "OracleException",
                "message": f"{type(exc).__name__}: {exc}",
            }
        sys.stdout.write(json.dumps(result, ensure_ascii=False, separators=(",", ":")))
        sys.stdout.write("\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
