"""A small ClickHouse-HTTP front for chDB (the ClickHouse engine as a Python library).

chDB cannot open ClickHouse's own listeners, so this program speaks the part of ClickHouse's HTTP
interface that the Rust `clickhouse` crate and curl use, and hands every statement to one long-lived
chDB connection. The engine does the SQL; this file only translates HTTP.

Usage: python chdb_http.py --path DIR [--host 127.0.0.1] [--port 0] [--user default] [--password '']
Prints `READY <host>:<port> chdb <version>` on stdout once it serves requests.
Dependencies: the standard library, `chdb` (PyPI chdb-core) and, for `decompress=1`, `lz4`.

Even as a test stack it behaves as a locked-down server would: every request must carry the
configured user and password (as ClickHouse reads them: `X-ClickHouse-User`/`X-ClickHouse-Key`,
HTTP basic auth, or `user`/`password` URL parameters); URL parameters used as settings must be plain
setting names and last for their request only; table functions and engines that read the machine or
the network (`file()`, `url()`, `s3()`, `remote()`, ...) are refused, since chDB runs in-process with
this program's rights; bodies are capped before and after decompression.
"""

import base64
import hmac

import argparse
import gzip
import json
import os
import re
import signal
import sys
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters that belong to the HTTP layer, not to the engine's settings.
HTTP_ONLY_PARAMS = {
    "query", "database", "default_format", "query_id", "session_id", "session_timeout",
    "session_check", "user", "password", "quota_key", "compress", "decompress",
    "wait_end_of_query", "enable_http_compression", "readonly", "role", "buffer_size",
    "send_progress_in_http_headers", "http_headers_progress_interval_ms", "stacktrace",
    "http_native_compression_disable_checksumming_on_decompress", "client_protocol_version",
}

# HTTP statuses ClickHouse answers with for an exception name; everything else is 500.
STATUS_BY_NAME = {}
for _name in (
    "BAD_ARGUMENTS CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE CANNOT_PARSE_QUOTED_STRING "
    "CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING "
    "CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 CANNOT_PARSE_UUID CANNOT_PARSE_INPUT_ASSERTION_FAILED "
    "CANNOT_READ_ALL_DATA INCORRECT_DATA TYPE_MISMATCH SYNTAX_ERROR UNKNOWN_ELEMENT_IN_AST "
    "UNKNOWN_TYPE_OF_AST_NODE TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE "
    "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE NUMBER_OF_ARGUMENTS_DOESNT_MATCH ILLEGAL_TYPE_OF_ARGUMENT "
    "ILLEGAL_COLUMN UNKNOWN_QUERY_PARAMETER BAD_QUERY_PARAMETER EMPTY_QUERY NO_ELEMENTS_IN_CONFIG "
    "CANNOT_COMPILE_REGEXP DUPLICATE_COLUMN THERE_IS_NO_COLUMN NOT_AN_AGGREGATE "
    "INVALID_SETTING_VALUE CANNOT_PARSE_BOOL"
).split():
    STATUS_BY_NAME[_name] = 400
for _name in (
    "UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE "
    "UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT "
    "UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE"
).split():
    STATUS_BY_NAME[_name] = 404
for _name in "UNKNOWN_USER WRONG_PASSWORD IP_ADDRESS_NOT_ALLOWED ACCESS_DENIED READONLY".split():
    STATUS_BY_NAME[_name] = 403
STATUS_BY_NAME["REQUIRED_PASSWORD"] = 401
STATUS_BY_NAME["AUTHENTICATION_FAILED"] = 401
STATUS_BY_NAME["NOT_IMPLEMENTED"] = 501
STATUS_BY_NAME["SOCKET_TIMEOUT"] = 503
STATUS_BY_NAME["CANNOT_OPEN_FILE"] = 500
STATUS_BY_NAME["TIMEOUT_EXCEEDED"] = 500
STATUS_BY_NAME["QUERY_WAS_CANCELLED"] = 500
STATUS_BY_NAME["HTTP_LENGTH_REQUIRED"] = 411
STATUS_BY_NAME["UNKNOWN_COMPRESSION_METHOD"] = 400

CONTENT_TYPES = {
    "JSON": "application/json; charset=UTF-8",
    "JSONCompact": "application/json; charset=UTF-8",
    "JSONEachRow": "application/x-ndjson; charset=UTF-8",
    "JSONCompactEachRow": "application/x-ndjson; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "TabSeparatedWithNames": "text/tab-separated-values; charset=UTF-8",
    "TSVWithNames": "text/tab-separated-values; charset=UTF-8",
    "Pretty": "text/plain; charset=UTF-8",
}

INSERT_FORMAT = re.compile(
    r"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+([A-Za-z0-9_]+)[ \t]*(?:\r?\n|$)", re.I | re.S
)
KAFKA_ENGINE = re.compile(r"\bENGINE\s*=\s*Kafka\b", re.I)
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.I)
ERROR_CODE = re.compile(r"Code:\s*(\d+)\.")
ERROR_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")
SET_OR_USE = re.compile(r"^\s*(SET|USE)\s", re.I)
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Table functions, scalar functions and engines that read files, run programs or reach other hosts.
MACHINE_READERS = re.compile(
    r"\b(file|filecluster|url|urlcluster|s3|s3cluster|gcs|hdfs|hdfscluster|remote|remotesecure|cluster|"
    r"clusterallreplicas|executable|executablepool|jdbc|odbc|mysql|postgresql|sqlite|mongodb|redis|"
    r"azureblobstorage|azureblobstoragecluster|iceberg|icebergs3|icebergazure|iceberghdfs|iceberglocal|"
    r"deltalake|deltalakelocal|hudi|arrowflight|ytsaurus|paimon)\s*\(",
    re.I,
)

# Largest request body, before and after decompression (the stack's own inserts are far smaller).
MAX_BODY_BYTES = 256 << 20

# Threads for Kafka-engine consumers (one per Kafka table and consumer); ClickHouse server's default.
MESSAGE_BROKER_THREADS = 16


class QueryError(Exception):
    """An engine or protocol error, with ClickHouse's code and name."""

    def __init__(self, text, code=None, name=None):
        super().__init__(text)
        self.text = text.strip()
        match = ERROR_CODE.search(self.text)
        self.code = code if code is not None else (int(match.group(1)) if match else 1002)
        if name is None:
            found = ERROR_NAME.search(self.text)
            name = found.group(1) if found else ""
        self.name = name


class Engine:
    """One chDB connection; every use holds the lock (chDB sessions are not thread safe)."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        moved = self._move_kafka_tables_aside()
        # chDB sizes the pool that runs Kafka-engine consumers at 2 threads (ClickHouse server: 16). A consumer
        # waiting on its group (tansu rebalances take seconds) holds its thread, so with Hogref's five Kafka
        # tables two waiting ones starved the events consumer for 10+ seconds.
        self.conn = chdb.connect(
            "file:%s?background_message_broker_schedule_pool_size=%d" % (path, MESSAGE_BROKER_THREADS)
        )
        self.version = self.conn.query("SELECT version()", "TabSeparated").bytes().decode().strip()
        self._reattach(moved)

    def _move_kafka_tables_aside(self):
        """chDB cannot reopen a directory holding a Kafka-engine table: park their metadata, re-ATTACH later."""
        moved = []
        metadata = os.path.join(self.path, "metadata")
        if not os.path.isdir(metadata):
            return moved
        for root, _dirs, files in os.walk(metadata):
            for name in files:
                if not name.endswith(".sql"):
                    continue
                full = os.path.join(root, name)
                try:
                    with open(full, encoding="utf-8") as handle:
                        text = handle.read()
                except OSError:
                    continue
                if KAFKA_ENGINE.search(text):
                    aside = full + ".kafka-aside"
                    os.replace(full, aside)
                    moved.append((aside, text))
        return moved

    def _reattach(self, moved):
        for aside, text in moved:
            try:
                self._run(text, "TabSeparated", None)
            except QueryError as err:
                sys.stderr.write("could not re-attach %s: %s\n" % (aside, err.text))
            else:
                os.remove(aside)

    def _run(self, sql, fmt, params):
        try:
            if params:
                res = self.conn.query(sql, fmt, params=params)
            else:
                res = self.conn.query(sql, fmt)
        except Exception as exc:  # chDB raises ChdbError / RuntimeError with ClickHouse's text
            text = str(exc)
            if KAFKA_ENGINE.search(sql) and "Shutdown was called" in text and re.match(
                r"^\s*(CREATE|ATTACH)\b", sql, re.I
            ):
                return b"", {}
            raise QueryError(text) from None
        if res is None:
            return b"", {}
        stats = {}
        for key in ("rows_read", "bytes_read", "elapsed"):
            try:
                value = getattr(res, key)
                stats[key] = value() if callable(value) else value
            except Exception:
                pass
        data = res.bytes()
        return (data if data is not None else b""), stats

    def execute(self, sql, fmt, params, settings, database):
        """Runs one statement with per-request settings and database, then restores the session."""
        with self.lock:
            applied = []
            try:
                if database:
                    self._run("USE %s" % quote_ident(database), "TabSeparated", None)
                for key, value in settings:
                    self._run("SET %s = %s" % (key, quote_value(value)), "TabSeparated", None)
                    applied.append(key)
                return self._run(sql, fmt, params)
            finally:
                for key in applied:
                    try:
                        self._run("SET %s = DEFAULT" % key, "TabSeparated", None)
                    except QueryError:
                        pass
                if database:
                    try:
                        self._run("USE default", "TabSeparated", None)
                    except QueryError:
                        pass

    def insert(self, target, fmt, chunks, settings, database):
        """Streams `chunks` (bytes) into `INSERT INTO target` with the given input format."""
        with self.lock:
            applied = []
            try:
                if database:
                    self._run("USE %s" % quote_ident(database), "TabSeparated", None)
                for key, value in settings:
                    self._run("SET %s = %s" % (key, quote_value(value)), "TabSeparated", None)
                    applied.append(key)
                written = 0
                try:
                    inserter = self.conn.send_insert(target, fmt)
                    for chunk in chunks:
                        if chunk:
                            inserter.append(chunk)
                            written += len(chunk)
                    inserter.finish()
                except QueryError:
                    raise
                except Exception as exc:
                    raise QueryError(str(exc)) from None
                return written
            finally:
                for key in applied:
                    try:
                        self._run("SET %s = DEFAULT" % key, "TabSeparated", None)
                    except QueryError:
                        pass
                if database:
                    try:
                        self._run("USE default", "TabSeparated", None)
                    except QueryError:
                        pass

    def close(self):
        with self.lock:
            try:
                self.conn.close()
            except Exception:
                pass


def quote_ident(name):
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def quote_value(value):
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def too_large():
    return QueryError(
        "Code: 36. DB::Exception: The request body is larger than %d bytes (chdb-http limit). (BAD_ARGUMENTS)"
        % MAX_BODY_BYTES
    )


def inflate(data, wbits):
    """gzip/deflate, stopping at MAX_BODY_BYTES of output (a small bomb cannot fill the memory)."""
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error as exc:
        raise QueryError("Code: 354. DB::Exception: inflate failed: %s. (ZLIB_INFLATE_FAILED)" % exc) from None
    if len(out) > MAX_BODY_BYTES or inflater.unconsumed_tail:
        raise too_large()
    return out


def strip_literals(sql):
    """`sql` without comments and string literals, quoted identifiers unquoted (for MACHINE_READERS)."""
    out = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or (c == "$" and sql.startswith("$$", i)):
            end = "$$" if c == "$" else "'"
            i += len(end)
            while i < n and not sql.startswith(end, i):
                i += 2 if sql[i] == "\\" and end == "'" else 1
            i += len(end)
            out.append("''")
        elif c in "`\"":
            i += 1
            while i < n and sql[i] != c:
                if sql[i] == "\\":
                    i += 1
                if i < n:
                    out.append(sql[i])
                i += 1
            i += 1
        elif sql.startswith("--", i) or c == "#":
            while i < n and sql[i] != "\n":
                i += 1
            out.append(" ")
        elif sql.startswith("/*", i):
            depth = 0
            while i < n:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                    if depth == 0:
                        break
                else:
                    i += 1
            out.append(" ")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def refuse_machine_readers(sql):
    found = MACHINE_READERS.search(strip_literals(sql))
    if found:
        raise QueryError(
            "Code: 497. DB::Exception: %s() reads files, programs or other hosts; chdb-http refuses it. (ACCESS_DENIED)"
            % found.group(1)
        )


def checked_settings(pairs):
    """URL parameters used as settings: each name must be a plain setting name (it is spliced into SET)."""
    for key, _value in pairs:
        if not SETTING_NAME.match(key):
            raise QueryError(
                "Code: 115. DB::Exception: Unknown setting '%s'. (UNKNOWN_SETTING)" % key[:64].encode("unicode_escape").decode()
            )
    return pairs


def decompress_native(data):
    """Decodes ClickHouse's compressed block stream (what `decompress=1` clients send)."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 25:
            raise QueryError("Code: 271. DB::Exception: Cannot decompress: truncated block header. (CANNOT_DECOMPRESS)")
        method = data[pos + 16]
        compressed = int.from_bytes(data[pos + 17:pos + 21], "little")
        size = int.from_bytes(data[pos + 21:pos + 25], "little")
        payload = data[pos + 25:pos + 16 + compressed]
        if len(payload) != compressed - 9:
            raise QueryError("Code: 271. DB::Exception: Cannot decompress: truncated block. (CANNOT_DECOMPRESS)")
        if size > MAX_BODY_BYTES or sum(len(b) for b in out) + size > MAX_BODY_BYTES:
            raise too_large()
        if method == 0x82:
            import lz4.block

            out.append(lz4.block.decompress(payload, uncompressed_size=size))
        elif method == 0x02:
            out.append(payload)
        else:
            raise QueryError(
                "Code: 89. DB::Exception: Unknown compression method: 0x%02x (chdb-http supports LZ4 and NONE). (UNKNOWN_COMPRESSION_METHOD)"
                % method
            )
        pos += 16 + compressed
    return b"".join(out)


def parse_multipart(body, content_type):
    """Returns the text fields of a multipart/form-data body (the crate sends `.param()` queries so)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise QueryError("Code: 36. DB::Exception: multipart body without boundary. (BAD_ARGUMENTS)")
    boundary = b"--" + match.group(1).encode()
    fields = []
    for part in body.split(boundary)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, _, value = part.partition(b"\r\n\r\n")
        if value.endswith(b"\r\n"):
            value = value[:-2]
        name = re.search(rb'name="([^"]*)"', head)
        if name:
            fields.append((name.group(1).decode(), value.decode("utf-8", "replace")))
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "chdb-http"
    engine = None
    user = "default"
    password = ""

    def _check_credentials(self, args):
        """The configured user and password, from headers, basic auth or URL parameters (as ClickHouse)."""
        user = self.headers.get("X-ClickHouse-User")
        password = self.headers.get("X-ClickHouse-Key")
        auth = self.headers.get("Authorization", "")
        if auth[:6].lower() == "basic ":
            try:
                decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            except Exception:
                decoded = ""
            basic_user, _, basic_password = decoded.partition(":")
            user = user if user is not None else basic_user
            password = password if password is not None else basic_password
        if user is None:
            user = args.get("user")
        if password is None:
            password = args.get("password")
        user = user or "default"
        password = password or ""
        same_user = hmac.compare_digest(user.encode(), self.user.encode())
        same_password = hmac.compare_digest(password.encode(), self.password.encode())
        if not (same_user and same_password):
            raise QueryError(
                "Code: 516. DB::Exception: %s: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)"
                % user[:64].encode("unicode_escape").decode()
            )

    def log_message(self, fmt, *args):  # quiet: one line per error only
        pass

    def _reply(self, status, body, headers=()):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            total = 0
            while True:
                line = self.rfile.readline().strip()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
                total += size
                if total > MAX_BODY_BYTES:
                    raise too_large()
            body = b"".join(parts)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                raise too_large()
            body = self.rfile.read(length) if length else b""
        encoding = self.headers.get("Content-Encoding", "").lower()
        if encoding == "gzip":
            body = inflate(body, zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            body = inflate(body, zlib.MAX_WBITS)
        elif encoding not in ("", "identity"):
            raise QueryError(
                "Code: 89. DB::Exception: Unknown Content-Encoding %s. (UNKNOWN_COMPRESSION_METHOD)" % encoding
            )
        return body

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._handle(readonly=True)

    def do_POST(self):
        self._handle(readonly=False)

    def _handle(self, readonly):
        started = time.monotonic()
        url = urlsplit(self.path)
        params = parse_qsl(url.query, keep_blank_values=True)
        query_id = dict(params).get("query_id") or str(uuid.uuid4())
        try:
            if url.path in ("/", "/query"):
                self._check_credentials(dict(params))
            body = b"" if readonly else self._read_body()
            if url.path not in ("/", "/query"):
                if url.path in ("/ping", "/replicas_status"):
                    return self._reply(200, b"Ok.\n", [("Content-Type", "text/plain; charset=UTF-8")])
                return self._reply(404, b"There is no handle %s\n" % url.path.encode(), [("Content-Type", "text/plain")])
            content_type = self.headers.get("Content-Type", "")
            if content_type.startswith("multipart/form-data"):
                params += parse_multipart(body, content_type)
                body = b""
            args = dict(params)
            if "query" not in args and not body:
                return self._reply(200, b"Ok.\n", [("Content-Type", "text/plain; charset=UTF-8")])
            if "user" in args or "password" in args:
                # Credentials sent inside a multipart body are checked like URL parameters.
                self._check_credentials(args)
            if args.get("decompress") == "1" and body:
                body = decompress_native(body)
            self._execute(args, params, body, query_id, started)
        except QueryError as err:
            self._error(err, query_id)
        except Exception as exc:  # protocol trouble: still answer like ClickHouse
            self._error(QueryError("Code: 1002. DB::Exception: %s: %s. (UNKNOWN_EXCEPTION)" % (type(exc).__name__, exc)), query_id)

    def _execute(self, args, params, body, query_id, started):
        database = args.get("database") or ""
        fmt_default = args.get("default_format") or "TabSeparated"
        query_params = {k[6:]: v for k, v in params if k.startswith("param_")}
        settings = checked_settings([
            (k, v) for k, v in params if k not in HTTP_ONLY_PARAMS and not k.startswith("param_")
        ])
        head = args.get("query", "")
        insert = INSERT_FORMAT.match(head) if head else None
        if insert:
            data = body
        elif not head:
            # The whole statement is in the body; an INSERT's data follows its FORMAT clause.
            text_start = body[:65536].decode("utf-8", "replace")
            insert = INSERT_FORMAT.match(text_start)
            data = body[len(insert.group(0).encode("utf-8")):] if insert else b""
        else:
            data = b""
        if insert:
            target, fmt = insert.group(1), insert.group(2)
            refuse_machine_readers(target)
            written = self.engine.insert(target, fmt, (data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)), settings, database)
            summary = {"written_bytes": written}
            return self._ok(b"", fmt_default, query_id, started, summary)
        sql = head + ("\n" + body.decode("utf-8") if body else "") if head else body.decode("utf-8")
        if not sql.strip():
            raise QueryError("Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
        refuse_machine_readers(sql)
        if SET_OR_USE.match(sql) and ";" not in sql.strip().rstrip(";"):
            # No sessions: a lone SET/USE has no lasting effect, as in ClickHouse without session_id.
            return self._ok(b"", fmt_default, query_id, started, {})
        found = TRAILING_FORMAT.search(sql)
        fmt = found.group(1) if found else fmt_default
        data, stats = self.engine.execute(sql, fmt_default, query_params or None, settings, database)
        self._ok(data, fmt, query_id, started, stats)

    def _ok(self, data, fmt, query_id, started, stats):
        elapsed_ns = int((time.monotonic() - started) * 1e9)
        summary = {
            "read_rows": str(stats.get("rows_read", 0) or 0),
            "read_bytes": str(stats.get("bytes_read", 0) or 0),
            "written_rows": "0",
            "written_bytes": str(stats.get("written_bytes", 0)),
            "total_rows_to_read": "0",
            "result_rows": "0",
            "result_bytes": str(len(data)),
            "elapsed_ns": str(elapsed_ns),
        }
        headers = [
            ("Content-Type", CONTENT_TYPES.get(fmt, "application/octet-stream")),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Format", fmt),
            ("X-ClickHouse-Timezone", "UTC"),
            ("X-ClickHouse-Server-Display-Name", "chdb-http"),
            ("X-ClickHouse-Summary", json.dumps(summary, separators=(",", ":"))),
        ]
        self._reply(200, data, headers)

    def _error(self, err, query_id):
        text = err.text
        if "(version " not in text:
            text += " (version %s (chdb-http))" % self.engine.version
        status = STATUS_BY_NAME.get(err.name, 500)
        headers = [
            ("Content-Type", "text/plain; charset=UTF-8"),
            ("X-ClickHouse-Query-Id", query_id),
            ("X-ClickHouse-Exception-Code", str(err.code)),
            ("X-ClickHouse-Timezone", "UTC"),
        ]
        try:
            self._reply(status, (text + "\n").encode("utf-8"), headers)
        except OSError:
            pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", required=True, help="chDB data directory (one process per directory)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--user", default=os.environ.get("CHDB_HTTP_USER", "default"))
    parser.add_argument("--password", default=os.environ.get("CHDB_HTTP_PASSWORD", ""))
    opts = parser.parse_args()
    os.makedirs(opts.path, exist_ok=True)
    engine = Engine(opts.path)
    Handler.engine = engine
    Handler.user = opts.user
    Handler.password = opts.password
    server = ThreadingHTTPServer((opts.host, opts.port), Handler)
    server.daemon_threads = True

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print("READY %s:%d chdb %s" % (host, port, engine.version), flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        engine.close()
        print("STOPPED", flush=True)


if __name__ == "__main__":
    main()
