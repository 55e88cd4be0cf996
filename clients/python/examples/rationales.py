"""Rationales for a list of texts: the top-k words of an attribution method, one JSON line per text.

    ./rationale serve --model ../shared/data/models/stories260K-hf --port 8000 &
    python3 clients/python/examples/rationales.py --url http://127.0.0.1:8000 --method attnlrp --k 3 \
        "Once upon a time there was a little girl" "The dog ran to the park"
    python3 clients/python/examples/rationales.py --file texts.txt      # one text per line
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rationale_client import RationaleClient, RationaleError, top_words  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("texts", nargs="*", help="texts to explain")
    p.add_argument("--file", help="read texts from this file, one per line")
    p.add_argument("--url", default=os.environ.get("RATIONALE_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token-file", help="bearer token of a server started with --token-file")
    p.add_argument("--method", default="input_x_gradient")
    p.add_argument("--k", type=int, default=5, help="words per rationale")
    args = p.parse_args()
    texts = list(args.texts)
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            texts += [line.strip() for line in f if line.strip()]
    if not texts:
        p.error("no texts given")
    token = open(args.token_file, encoding="utf-8").read().strip() if args.token_file else None
    client = RationaleClient(args.url, token=token)
    try:
        # one request for all texts: the server runs them as one batched forward and backward
        results = client.attribute_many(texts, methods=[args.method])
    except RationaleError as e:
        print("rationales.py: " + e.message, file=sys.stderr)
        return 1
    for text, r in zip(texts, results):
        print(json.dumps({"text": text, "target": r.get("target_text"), "method": args.method,
                          "rationale": top_words(r, k=args.k)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
