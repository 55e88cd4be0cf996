"""Tests of rationale_client against a running `./rationale serve` on stories260K-hf.

The Java test suite starts the server and runs this file (ServeProcessTest); by hand:
    ./rationale serve --model ../shared/data/models/stories260K-hf --port 8000 &
    RATIONALE_URL=http://127.0.0.1:8000 python3 -m unittest -v clients/python/test_client.py
"""

import concurrent.futures
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from rationale_client import RationaleClient, RationaleConnectionError, RationaleError, top_words  # noqa: E402

URL = os.environ.get("RATIONALE_URL", "http://127.0.0.1:8000")
TOKEN = os.environ.get("RATIONALE_TOKEN") or None

TEXTS = [
    "Once upon a time there was a little girl named Lily",
    "One day, Tom went to the park with his mom",
    "The cat sat on the mat and looked at the big red ball",
    "She was very happy because it was her birthday",
    "The little bird could not fly",
    "Max and Sue liked to play in the garden every day after lunch",
    "It was a sunny day",
    "The dog ran fast to get the stick that the boy threw",
]


def log_softmax(logits, token):
    m = max(logits)
    return logits[token] - (m + math.log(sum(math.exp(x - m) for x in logits)))


def assert_close_scores(test, a, b, tol=1e-4):
    test.assertEqual(a["ids"], b["ids"])
    test.assertEqual(a["target_id"], b["target_id"])
    scale = max(1e-12, max(abs(x) for x in a["scores"]))
    for x, y in zip(a["scores"], b["scores"]):
        test.assertAlmostEqual(x, y, delta=tol * scale)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.client = RationaleClient(URL, token=TOKEN)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def test_health_and_models(self):
        h = self.client.health()
        self.assertEqual("ok", h["status"])
        self.assertEqual(["stories260K-hf"], self.client.models())

    def test_tokenize_round_trip(self):
        ids = self.client.tokenize("Once upon a time")
        self.assertEqual(1, ids[0], "BOS first")
        self.assertEqual("Once upon a time", self.client.detokenize(ids[1:]))

    def test_attribute_one_text(self):
        r = self.client.attribute(TEXTS[0], methods=["input_x_gradient", "attnlrp"], target_text="was")
        self.assertEqual("all", r["method"])
        self.assertEqual(" was", r["target_text"])
        self.assertEqual(len(r["ids"]), len(r["methods"]["attnlrp"]["scores"]))
        words = [w["text"] for w in r["methods"]["attnlrp"]["words"]]
        self.assertEqual(TEXTS[0].split(), words)
        self.assertEqual(3, len(top_words(r, "attnlrp", k=3)))
        one = self.client.attribute(TEXTS[0], methods="saliency")
        self.assertEqual("saliency", one["method"])
        self.assertIn("device", one)

    def test_many_inputs_equal_single_requests_and_concurrent_clients_too(self):
        many = self.client.attribute_many(TEXTS, methods=["input_x_gradient"])
        single = [self.client.attribute(t, methods=["input_x_gradient"]) for t in TEXTS]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            concurrent_ = list(pool.map(lambda t: self.client.attribute(t, methods=["input_x_gradient"]), TEXTS))
        for m, s, c in zip(many, single, concurrent_):
            assert_close_scores(self, s, m)
            assert_close_scores(self, s, c)

    def test_flip_evaluation_of_a_given_rationale(self):
        r = self.client.flip_evaluation(
            labels=["entailment", "neutral", "contradiction"], kind="esnli",
            fields={"premise": "The little girl played in the park with her dog", "hypothesis": "A girl was outside"},
            rationales={"mine": [2, 6, 11]}, rationale=[1, 2, 11])
        self.assertIn(r["predicted"], ["entailment", "neutral", "contradiction"])
        mine = r["methods"]["mine"]
        self.assertEqual([2, 6, 11], mine["rationale"])
        self.assertEqual(3, mine["faithfulness"]["main"]["k"])
        self.assertAlmostEqual(2 / 3, mine["alignment"]["precision"])
        self.assertAlmostEqual(1.0, sum(r["labelProbs"].values()), places=9)

    def test_completions_echo_logprobs_as_lm_eval_reads_them(self):
        ctx = self.client.tokenize("Once upon a time")
        cont = self.client.tokenize(" there was a girl", add_special_tokens=False)
        ids = ctx + cont
        # lm-evaluation-harness local-completions, loglikelihood request
        out = self.client.completions([ids], model="stories260K-hf", temperature=0, max_tokens=1, logprobs=1, seed=1234, echo=True)
        choice = sorted(out["choices"], key=lambda c: c["index"])[0]
        lp = choice["logprobs"]
        self.assertIsNone(lp["token_logprobs"][0])
        self.assertEqual(len(ids) + 1, len(lp["token_logprobs"]))
        continuation = lp["token_logprobs"][len(ctx):-1]
        self.assertEqual(len(cont), len(continuation))
        # each equals log-softmax of the logits after the tokens before it
        for i in range(len(ctx), len(ids)):
            logits = self.client.logits(ids=ids[:i])["logits_last"]
            self.assertAlmostEqual(log_softmax(logits, ids[i]), lp["token_logprobs"][i], delta=1e-4)
        for tok_lp, top in zip(continuation, lp["top_logprobs"][len(ctx):-1]):
            self.assertLessEqual(tok_lp, max(top.values()) + 1e-12)

    def test_streamed_completions_add_up_to_the_unstreamed_text(self):
        params = dict(max_tokens=40, temperature=0.8, top_p=0.9, seed=5, stop=["."])
        whole = self.client.completions(["Once upon a time", "The dog"], **params)
        pieces = {0: [], 1: []}
        for index, text in self.client.stream_completions(["Once upon a time", "The dog"], **params):
            pieces[index].append(text)
        for c in whole["choices"]:
            self.assertEqual(c["text"], "".join(pieces[c["index"]]))
            self.assertGreater(len(pieces[c["index"]]), 1, "several pieces, not one")
        # the events themselves: one id, the finish reason last, the usage chunk on request
        events = list(self.client.stream("/v1/completions", dict(prompt="One day", max_tokens=5, temperature=0,
                                                                  stream_options={"include_usage": True})))
        self.assertEqual(1, len({e["id"] for e in events}))
        self.assertEqual([], events[-1]["choices"])
        self.assertEqual(5, events[-1]["usage"]["completion_tokens"])
        self.assertEqual("length", events[-2]["choices"][0]["finish_reason"])
        with self.assertRaises(RationaleError) as e:
            list(self.client.stream_completions([1, 99999], max_tokens=3))
        self.assertEqual(400, e.exception.status)

    def test_errors_are_raised_with_the_servers_message(self):
        with self.assertRaises(RationaleError) as e:
            self.client.attribute(TEXTS[0], methods=["salience"])
        self.assertEqual(400, e.exception.status)
        self.assertTrue(e.exception.message.startswith("unknown method 'salience'"), e.exception.message)
        with self.assertRaises(RationaleError) as e:
            self.client.logits(text="Once upon a time " * 200)
        self.assertEqual(400, e.exception.status)
        self.assertIn("exceeds the limit of 512 tokens", e.exception.message)
        self.assertEqual("ok", self.client.health()["status"], "the server keeps serving")

    def test_logits_and_generate_take_ids_text_messages_chat_and_system(self):
        ids = self.client.tokenize("Once upon a time")
        by_text = self.client.logits("Once upon a time")                  # the positional signature still works
        by_ids = self.client.logits(ids=ids)
        self.assertEqual(ids, by_text["ids"])
        self.assertEqual(by_text["argmax_last"], by_ids["argmax_last"])
        g = self.client.generate("Once upon a time", None, 4)
        self.assertEqual(4, g["new_tokens"])
        self.assertEqual(g["ids"], self.client.generate(ids=ids, max_new_tokens=4)["ids"])
        # stories260K has no chat template: messages and chat reach the server, which answers 400
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell a story"}]
        calls = [lambda: self.client.logits(messages=messages),
                 lambda: self.client.logits("Tell a story", chat=True),
                 lambda: self.client.logits(text="Tell a story", chat=True, system="Be brief."),
                 lambda: self.client.generate(messages=messages, max_new_tokens=3),
                 lambda: self.client.generate("Tell a story", chat=True, system="Be brief.", max_new_tokens=3),
                 lambda: self.client.attribute("Tell a story", methods="saliency", chat=True, system="Be brief."),
                 lambda: self.client.attribute_many(["Tell a story"], methods="saliency", chat=True)]
        for call in calls:
            with self.assertRaises(RationaleError) as e:
                call()
            self.assertEqual(400, e.exception.status)
            self.assertIn("no chat_template", e.exception.message)
        for bad in (dict(), dict(text="a", ids=[1]), dict(ids=[1], messages=messages), dict(ids=[1], chat=True),
                    dict(messages=messages, system="x"), dict(text="a", system="x")):
            with self.assertRaises(ValueError, msg=str(bad)):
                self.client.logits(**bad)

    def test_the_example_script(self):
        env = dict(os.environ, RATIONALE_URL=URL)
        args = [sys.executable, os.path.join(HERE, "examples", "rationales.py"), "--k", "2", "--method", "attnlrp",
                TEXTS[1], TEXTS[4]]
        with tempfile.TemporaryDirectory() as tmp:
            if TOKEN:
                path = os.path.join(tmp, "token")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(TOKEN)
                args[2:2] = ["--token-file", path]
            out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr)
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        self.assertEqual([TEXTS[1], TEXTS[4]], [line["text"] for line in lines])
        for line in lines:
            self.assertEqual(2, len(line["rationale"]))
            for w in line["rationale"]:
                self.assertIn(w, line["text"].split())


def free_port():
    """A port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_request(conn):
    """Reads one HTTP request (head and Content-Length body) from a socket; returns "METHOD PATH" or None at EOF."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for h in lines[1:]:
        name, _, value = h.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return " ".join(lines[0].split()[:2])


def answer(conn, body=b'{"status": "ok"}', keep_alive=True):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
                 % (len(body), b"" if keep_alive else b"Connection: close\r\n", body))


class FakeServer:
    """A socket server that runs one script per accepted connection, in order (a script gets the socket), and
    records the requests each connection received; a connection beyond the scripts is recorded and closed."""

    def __init__(self, *scripts):
        self.scripts = list(scripts)
        self.connections = []           # per accepted connection, the requests it read ("POST /v1/...")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            requests = []
            self.connections.append(requests)
            script = self.scripts.pop(0) if self.scripts else None
            with conn:
                conn.settimeout(10)
                try:
                    if script is not None:
                        script(conn, lambda: requests.append(read_request(conn)) or requests[-1])
                except OSError:
                    pass

    def close(self):
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()


class TransportErrorTest(unittest.TestCase):
    """A server that cannot be reached or that stops mid-request: RationaleConnectionError with one line, and a
    request is sent again only over a new connection when it failed on a reused keep-alive connection."""

    def assert_one_line(self, e, *parts):
        self.assertIsInstance(e, RationaleConnectionError)
        self.assertEqual(0, e.status)
        self.assertEqual("connection_error", e.type)
        self.assertNotIn("\n", str(e))
        for part in parts:
            self.assertIn(part, e.message)
        self.assertIsNotNone(e.__cause__, "the transport's exception is chained")

    def test_a_server_that_is_not_there(self):
        url = "http://127.0.0.1:%d" % free_port()
        client = RationaleClient(url, timeout=10)
        for call in (client.health, lambda: client.attribute("Once upon a time"),
                     lambda: list(client.stream_completions("Once", max_tokens=3))):
            with self.assertRaises(RationaleError) as e:
                call()
            self.assert_one_line(e.exception, "could not reach the server at " + url, "refused")
            self.assertIsInstance(e.exception.__cause__, ConnectionRefusedError)
        # the example prints that line, not a traceback
        out = subprocess.run([sys.executable, os.path.join(HERE, "examples", "rationales.py"), "--url", url, "a text"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(1, out.returncode, out.stderr)
        self.assertEqual(["rationales.py: could not reach the server at %s: Connection refused" % url],
                         out.stderr.splitlines())

    def test_a_server_that_stops_mid_request_gets_it_once(self):
        def keep_alive_then_drop_the_second_request(conn, read):
            read()
            answer(conn)
            read()                      # the request crossed the close of an idle connection: the client resends it

        def answers(conn, read):
            read()
            answer(conn)

        def reads_and_closes(conn, read):
            read()                      # a server killed after reading the request

        def streams_one_event_and_closes(conn, read):
            read()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
                         b'data: {"choices": [{"index": 0, "text": "Once"}]}\n\n')

        server = FakeServer(keep_alive_then_drop_the_second_request, answers, reads_and_closes, reads_and_closes,
                            reads_and_closes, streams_one_event_and_closes)
        try:
            client = RationaleClient(server.url, timeout=10)
            self.assertEqual("ok", client.health()["status"])
            self.assertEqual("ok", client.request("POST", "/v1/logits", {"text": "Once"})["status"],
                             "sent again on a new connection: the first one was a reused keep-alive connection")
            self.assertEqual([["GET /health", "POST /v1/logits"], ["POST /v1/logits"]], server.connections)
            client.close()
            # a fresh connection that the server closes without answering: no second try
            with self.assertRaises(RationaleError) as e:
                client.attribute("Once upon a time", methods="saliency")
            self.assert_one_line(e.exception, "the server closed the connection during the request to "
                                              "POST /v1/attributions (it may have stopped)")
            self.assertEqual(3, len(server.connections), server.connections)
            # the next request opens a connection of its own (nothing is left of the closed one), once
            with self.assertRaises(RationaleConnectionError):
                client.logits("Once")
            self.assertEqual(4, len(server.connections), server.connections)
            # a stream the same way: before the answer, and in the middle of the events
            with self.assertRaises(RationaleError) as e:
                list(client.stream_completions("Once", max_tokens=3))
            self.assert_one_line(e.exception, "during the request to POST /v1/completions")
            self.assertEqual(5, len(server.connections), server.connections)
            pieces = []
            with self.assertRaises(RationaleError) as e:
                for _, piece in client.stream_completions("Once", max_tokens=3):
                    pieces.append(piece)
            self.assertEqual(["Once"], pieces)
            self.assertIsInstance(e.exception, RationaleConnectionError)
            self.assertIn("in the middle of the stream of POST /v1/completions (it may have stopped)",
                          e.exception.message)
            self.assertEqual([["POST /v1/completions"]] * 2, server.connections[4:])
            client.close()
        finally:
            server.close()

    def test_a_server_killed_during_a_request_on_a_kept_alive_connection(self):
        def keep_alive_then_stop_during_the_second_request(conn, read):
            read()
            answer(conn)
            read()
            server.sock.close()         # the process is gone: no new connections either

        server = FakeServer(keep_alive_then_stop_during_the_second_request)
        try:
            client = RationaleClient(server.url, timeout=10)
            self.assertEqual("ok", client.health()["status"])
            with self.assertRaises(RationaleError) as e:
                client.attribute("Once upon a time", methods="saliency")
            self.assert_one_line(e.exception, "the server closed the connection during the request to "
                                              "POST /v1/attributions (it may have stopped); could not reach it again "
                                              "at %s: Connection refused" % server.url)
            self.assertIsInstance(e.exception.__cause__, ConnectionRefusedError)
            self.assertEqual([["GET /health", "POST /v1/attributions"]], server.connections)
            client.close()
        finally:
            server.close()


if __name__ == "__main__":
    unittest.main()
