"""Tests of rationale_client against a running `./rationale serve` on stories260K-hf.

The Java test suite starts the server and runs this file (ServeProcessTest); by hand:
    ./rationale serve --model ../shared/data/models/stories260K-hf --port 8000 &
    RATIONALE_URL=http://127.0.0.1:8000 python3 -m unittest -v clients/python/test_client.py
"""

import concurrent.futures
import json
import math
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from rationale_client import RationaleClient, RationaleError, top_words  # noqa: E402

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


if __name__ == "__main__":
    unittest.main()
