"""A client for rationale-engine's service (`./rationale serve`), standard library only.

    from rationale_client import RationaleClient
    client = RationaleClient("http://127.0.0.1:8000")          # token="..." when the server has --token-file
    result = client.attribute("Once upon a time there was a", methods=["input_x_gradient", "attnlrp"])
    for word in result["methods"]["attnlrp"]["words"]:
        print(word["text"], word["score"])

Every method returns the JSON the service answers (the same objects `rationale attribute --json` and the Java API
produce; see docs/service.md). Errors raise RationaleError with the HTTP status and the server's one-line message;
a server that cannot be reached or that drops the connection raises RationaleConnectionError (a RationaleError with
status 0, type "connection_error"). One client may be shared by threads: each thread keeps its own keep-alive
connection, and concurrent requests are batched by the server.
"""

import http.client
import json
import select
import socket
import threading
import urllib.parse

__all__ = ["RationaleClient", "RationaleError", "RationaleConnectionError", "top_words"]


class RationaleError(Exception):
    """An error answer of the service: `status` (HTTP), `type` and `message` (one line)."""

    def __init__(self, status, type_, message):
        super().__init__("%d %s: %s" % (status, type_, message))
        self.status = status
        self.type = type_
        self.message = message


class RationaleConnectionError(RationaleError):
    """No answer from the service: it could not be reached, or it closed the connection before answering (or in
    the middle of a stream). `status` 0, `type` "connection_error", `message` one line saying what happened and
    where; the transport's exception is chained (`__cause__`)."""

    def __init__(self, message):
        super().__init__(0, "connection_error", message)


# a kept-alive connection that the server closed before our request reached it shows one of these
_CLOSED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class _Connection(http.client.HTTPConnection):
    served = False      # whether this socket has answered a request, i.e. is a reused keep-alive connection


class RationaleClient:
    """The service's endpoints as methods; `base_url` is `http://HOST:PORT` of `./rationale serve`."""

    def __init__(self, base_url="http://127.0.0.1:8000", token=None, timeout=300.0):
        url = urllib.parse.urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError("base_url must look like http://HOST:PORT, got %r" % base_url)
        self.host = url.hostname
        self.port = url.port or 80
        self.token = token
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open = set()          # every thread's connection, so close() closes them all

    # ------------------------------------------------------------------ transport

    def _where(self):
        return "http://%s:%d" % (self.host, self.port)

    def _connect(self):
        """A new connection, connected; RationaleConnectionError when the server cannot be reached."""
        c = _Connection(self.host, self.port, timeout=self.timeout)
        try:
            c.connect()
        except OSError as e:
            c.close()
            raise RationaleConnectionError("could not reach the server at %s: %s" % (self._where(), _reason(e))) from e
        return c

    def _connection(self):
        """This thread's connection: the kept-alive one when the server has not closed it meanwhile, else a new one
        (then c.served is False)."""
        c = getattr(self._local, "conn", None)
        if c is not None and (c.sock is None or _dropped(c.sock)):
            self._drop(c)
            c = None
        if c is None:
            c = self._connect()
            self._local.conn = c
            with self._lock:
                self._open.add(c)
        return c

    def _drop(self, conn):
        conn.close()
        with self._lock:
            self._open.discard(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def _lost(self, e, method, path, streaming=False):
        """The RationaleConnectionError of a transport failure once connected."""
        if isinstance(e, socket.timeout):
            what = "the server at %s did not answer %s %s within %g s" % (self._where(), method, path, self.timeout)
        elif isinstance(e, (http.client.RemoteDisconnected, ConnectionError, http.client.IncompleteRead)):
            what = "the server closed the connection %s %s %s (it may have stopped)" % (
                "in the middle of the stream of" if streaming else "during the request to", method, path)
        else:
            what = "the connection to the server at %s failed during %s %s: %s" % (
                self._where(), method, path, _reason(e))
        return RationaleConnectionError(what)

    def request(self, method, path, body=None):
        """Sends one request; returns the parsed JSON answer or raises RationaleError (RationaleConnectionError when
        the server cannot be reached or closes the connection without answering)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        closed = None       # the failure of the first try, on a reused connection
        while True:
            try:
                conn = self._connection()
            except RationaleConnectionError as e:
                if closed is None:
                    raise
                # the server stopped during the request rather than closing an idle connection
                raise RationaleConnectionError("%s; %s" % (self._lost(closed, method, path).message, e.message.replace(
                    "could not reach the server", "could not reach it again", 1))) from e.__cause__
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except _CLOSED as e:
                self._drop(conn)
                if conn.served and closed is None:
                    # a reused keep-alive connection that the server closed while it was idle (the close crossed our
                    # request): once more on a new connection, which is never resent
                    closed = e
                    continue
                raise self._lost(e, method, path) from e
            except (OSError, http.client.HTTPException) as e:
                self._drop(conn)
                raise self._lost(e, method, path) from e
            conn.served = True
            if resp.getheader("Connection", "").lower() == "close":
                self._drop(conn)
            answer = json.loads(raw.decode("utf-8")) if raw else None
            if resp.status >= 400:
                err = (answer or {}).get("error", {}) if isinstance(answer, dict) else {}
                raise RationaleError(resp.status, err.get("type", "error"), err.get("message", raw.decode("utf-8", "replace")))
            return answer

    def stream(self, path, body):
        """POSTs a request with "stream": true and yields each server-sent event's JSON as it arrives (on a
        connection of its own, closed at the end or when the caller stops iterating, which cancels the rest of the
        generation). An error answer raises RationaleError; an error event mid-stream raises it too, and a stream
        that stops before its end (`data: [DONE]`) raises RationaleConnectionError."""
        body = dict(body, stream=True)
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        conn = self._connect()
        try:
            try:
                conn.request("POST", path, body=json.dumps(body).encode("utf-8"), headers=headers)
                resp = conn.getresponse()
            except (OSError, http.client.HTTPException) as e:
                raise self._lost(e, "POST", path) from e
            if resp.status >= 400:
                try:
                    raw = resp.read()
                except (OSError, http.client.HTTPException) as e:
                    raise self._lost(e, "POST", path) from e
                try:
                    err = json.loads(raw.decode("utf-8")).get("error", {})
                except ValueError:
                    err = {}
                raise RationaleError(resp.status, err.get("type", "error"), err.get("message", raw.decode("utf-8", "replace")))
            while True:
                try:
                    line = resp.readline()
                except (OSError, http.client.HTTPException) as e:
                    raise self._lost(e, "POST", path, streaming=True) from e
                if not line:
                    raise RationaleConnectionError("the server closed the connection in the middle of the stream of "
                                                   "POST %s (it may have stopped)" % path)
                line = line.decode("utf-8").rstrip("\r\n")
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    return
                event = json.loads(data)
                if "error" in event:
                    err = event["error"]
                    raise RationaleError(err.get("code") or 500, err.get("type", "error"), err.get("message", ""))
                yield event
        finally:
            conn.close()

    def close(self):
        """Closes the connections of every thread."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for c in conns:
            c.close()
        self._local = threading.local()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ endpoints

    def health(self):
        """{"status": "ok", "model", "device", "queued", "working", ...}"""
        return self.request("GET", "/health")

    def models(self):
        """The served model ids."""
        return [m["id"] for m in self.request("GET", "/v1/models")["data"]]

    def tokenize(self, text, add_special_tokens=True):
        """Token ids of a text (BOS added when the tokenizer adds one and add_special_tokens)."""
        return self.request("POST", "/tokenize", {"prompt": text, "add_special_tokens": add_special_tokens})["tokens"]

    def detokenize(self, ids):
        return self.request("POST", "/detokenize", {"tokens": list(ids)})["prompt"]

    def logits(self, text=None, ids=None, *, messages=None, chat=False, system=None):
        """One forward pass: {"ids", "logits_last", "argmax_per_position", "argmax_last", ...}.

        The input is exactly one of text, ids (used as given) or messages (chat messages [{"role", "content"}]
        through the model's chat template, with the generation prompt); chat=True renders text as one user message
        through the template, after the system message when system is given. A model without a chat template
        answers 400 (RationaleError) to messages and chat."""
        return self.request("POST", "/v1/logits", _input(text, ids, messages, chat, system))

    def generate(self, text=None, ids=None, max_new_tokens=64, temperature=0.0, top_p=1.0, seed=0, *, messages=None,
                 chat=False, system=None):
        """A continuation: {"ids", "text", "prompt_tokens", "new_tokens", "stop_reason", ...}; the input as in
        logits() (text, ids or messages; chat and system with text)."""
        body = _input(text, ids, messages, chat, system)
        body.update(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed)
        return self.request("POST", "/v1/generate", body)

    def attribute(self, text=None, ids=None, methods=("input_x_gradient",), **options):
        """Attribution of one input; options are those of `rationale attribute` in snake_case (target_text,
        target_id, target_kind, foil_text, foil_id, aggregate, steps, baseline_token, study_start, study_end, chat,
        system, seed, ...). Returns the object `rationale attribute --json` prints."""
        body = _input(text, ids)
        body["methods"] = list(methods) if not isinstance(methods, str) else [methods]
        body.update({k: v for k, v in options.items() if v is not None})
        return self.request("POST", "/v1/attributions", body)

    def attribute_many(self, inputs, methods=("input_x_gradient",), **options):
        """Attributions of many inputs in one request (the server batches them); each input is a text or a dict
        with per-input fields (text or ids, target_text, ...). Returns one result per input, in order."""
        body = {"inputs": list(inputs), "methods": list(methods) if not isinstance(methods, str) else [methods]}
        body.update({k: v for k, v in options.items() if v is not None})
        return self.request("POST", "/v1/attributions", body)["results"]

    def flip_evaluation(self, labels, fields, rationales=None, methods=None, kind=None, label=None, rationale=None, **options):
        """Classifies one example by label words and tests rationales by masking, as `rationale eval` does.

        labels: the label set; fields: {name: text} (in prompt order) or [{"name", "text"}]; rationales: {name:
        ranking} or [{"method", "ranking", "k"}], rankings being word indices over all fields, most important first;
        methods: rationale methods to compute (e.g. ["input_x_gradient", "prompt_guided"]); rationale: a human
        rationale (word indices) for alignment. Returns one line of eval's examples.jsonl."""
        if isinstance(fields, dict):
            fields = [{"name": k, "text": v} for k, v in fields.items()]
        if isinstance(rationales, dict):
            rationales = [{"method": k, "ranking": list(v)} for k, v in rationales.items()]
        body = {"labels": list(labels), "fields": fields, "rationales": rationales, "methods": methods, "kind": kind,
                "label": label, "rationale": rationale}
        body.update(options)
        return self.request("POST", "/v1/flip-evaluation", {k: v for k, v in body.items() if v is not None})

    def completions(self, prompt, **params):
        """OpenAI-compatible /v1/completions (max_tokens, temperature, top_p, seed, logprobs, echo, stop)."""
        body = {"prompt": prompt}
        body.update(params)
        return self.request("POST", "/v1/completions", body)

    def chat(self, messages, **params):
        """OpenAI-compatible /v1/chat/completions through the model's chat template."""
        body = {"messages": messages}
        body.update(params)
        return self.request("POST", "/v1/chat/completions", body)

    def stream_completions(self, prompt, **params):
        """/v1/completions streamed: yields (choice index, text piece) as the tokens come; the pieces of a choice
        add up to its unstreamed text. For log-probabilities per token, iterate stream("/v1/completions", ...)."""
        body = {"prompt": prompt}
        body.update(params)
        for event in self.stream("/v1/completions", body):
            for c in event["choices"]:
                if c["text"]:
                    yield c["index"], c["text"]

    def stream_chat(self, messages, **params):
        """/v1/chat/completions streamed: yields the answer's text pieces as the tokens come."""
        body = {"messages": messages}
        body.update(params)
        for event in self.stream("/v1/chat/completions", body):
            for c in event["choices"]:
                if c["delta"].get("content"):
                    yield c["delta"]["content"]


def top_words(result, method=None, k=5):
    """The k highest-scoring words of an attribution result (of `method` in a several-method result)."""
    if "methods" in result:
        if method is None:
            method = next(iter(result["methods"]))
        words = result["methods"][method]["words"]
    else:
        words = result["words"]
    scored = [w for w in words if w["score"] is not None]
    scored.sort(key=lambda w: (-w["score"], w["index"]))
    return [w["text"] for w in scored[:k]]


def _input(text, ids, messages=None, chat=False, system=None):
    if (text is not None) + (ids is not None) + (messages is not None) != 1:
        raise ValueError("give exactly one of text, ids or messages")
    if text is None and (chat or system is not None):
        raise ValueError("chat and system go with text (messages are rendered through the chat template anyway)")
    if system is not None and not chat:
        raise ValueError("system needs chat=True")
    if ids is not None:
        return {"ids": list(ids)}
    if messages is not None:
        return {"messages": list(messages)}
    body = {"text": text}
    if chat:
        body["chat"] = True
        if system is not None:
            body["system"] = system
    return body


def _dropped(sock):
    """Whether an idle kept-alive socket was closed by the server (it reads as ready: end of file, or data nobody
    asked for, which makes it unusable too)."""
    try:
        if hasattr(select, "poll"):
            p = select.poll()
            p.register(sock, select.POLLIN)
            return bool(p.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _reason(e):
    """The short reason of an OSError: "Connection refused", "timed out", "Name or service not known"."""
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
