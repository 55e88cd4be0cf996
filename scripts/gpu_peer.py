#!/usr/bin/env python3
"""PyTorch peer of the GPU check (scripts/gpu-check.sh run): on the GPU machine, which has PyTorch but no Java.

1. Reference: a plain PyTorch Llama forward (written here from the Hugging Face equations, f32) of the real
   stories260K checkpoint, against its reference_outputs.json (an independent float64 implementation).
2. Speed peer: the same shapes as the engine's timing (Llama-3.1-8B, bf16, random weights), a prefill of T tokens
   and a batch-1 decode of N tokens after it with a preallocated KV cache, timed with CUDA events; what PyTorch's
   eager mode (cuBLAS GEMMs, SDPA attention) reaches on this GPU, for the record beside the engine's figures.

Writes one JSON object (--out). Standard library + torch only.
"""
import argparse
import json
import math
import struct
import time

import torch
import torch.nn.functional as F


def load_safetensors(path, device):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[t["dtype"]]).reshape(t["shape"]).to(device)
    return out


def rope_tables(cfg, positions, device):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    ang = positions.to(torch.float64)[:, None] * inv[None, :]
    return torch.cos(ang).float().to(device), torch.sin(ang).float().to(device)


def rotate(x, cos, sin):  # x [T, heads, hd]; HF rotate-half
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


def rms(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def stories_reference(folder, device):
    cfg = json.load(open(f"{folder}/config.json"))
    ref = json.load(open(f"{folder}/reference_outputs.json"))
    w = {k: v.float() for k, v in load_safetensors(f"{folder}/model.safetensors", device).items()}
    ids = torch.tensor(ref["prompt_ids"], device=device)
    H, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, T = H // nh, cfg["rms_norm_eps"], len(ref["prompt_ids"])
    x = w["model.embed_tokens.weight"][ids]
    cos, sin = rope_tables(cfg, torch.arange(T), device)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, nh, hd)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, nkv, hd)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, nkv, hd)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
        a = F.scaled_dot_product_attention(q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), is_causal=True)
        x = x + a.transpose(0, 1).reshape(T, H) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        g, u = h @ w[p + "mlp.gate_proj.weight"].T, h @ w[p + "mlp.up_proj.weight"].T
        x = x + (F.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = rms(x, w["model.norm.weight"], eps) @ head.T
    last = logits[-1].double().cpu()
    first10 = torch.tensor(ref["prompt_logits_last_position_first10"], dtype=torch.float64)
    return {"max_abs_error_first10": float((last[:10] - first10).abs().max()),
            "argmax": int(last.argmax()), "reference_argmax": ref["prompt_logits_last_position_argmax"]}


def speed_peer(T, N, device):
    # Llama-3.1-8B shapes (weights-tools preset llama-3.1-8b), bf16, random weights
    H, L, nh, nkv, hd, I, V = 4096, 32, 32, 8, 128, 14336, 128256
    bf = torch.bfloat16
    g = torch.Generator(device=device).manual_seed(0)

    def mat(o, i):
        return (torch.randn(o, i, device=device, generator=g, dtype=torch.float32) / math.sqrt(i)).to(bf)

    layers = [dict(qkv=mat((nh + 2 * nkv) * hd, H), o=mat(H, nh * hd), gu=mat(2 * I, H), down=mat(H, I),
                   n1=torch.ones(H, device=device, dtype=bf), n2=torch.ones(H, device=device, dtype=bf)) for _ in range(L)]
    emb, head, norm = mat(V, H), mat(V, H), torch.ones(H, device=device, dtype=bf)
    ctx = T + N + 8
    kc = torch.zeros(L, nkv, ctx, hd, device=device, dtype=bf)
    vc = torch.zeros_like(kc)
    cfg = {"head_dim": hd, "hidden_size": H, "num_attention_heads": nh, "rope_theta": 500000.0}

    def forward(ids, start):
        n = ids.shape[0]
        x = emb[ids]
        cos, sin = rope_tables(cfg, torch.arange(start, start + n), device)
        cos, sin = cos.to(bf), sin.to(bf)
        for l, w in enumerate(layers):
            h = rms(x, w["n1"], 1e-5)
            qkv = h @ w["qkv"].T
            q = rotate(qkv[:, :nh * hd].view(n, nh, hd), cos, sin)
            k = rotate(qkv[:, nh * hd:(nh + nkv) * hd].view(n, nkv, hd), cos, sin)
            kc[l, :, start:start + n] = k.transpose(0, 1)
            vc[l, :, start:start + n] = qkv[:, (nh + nkv) * hd:].view(n, nkv, hd).transpose(0, 1)
            kk = kc[l, :, :start + n].repeat_interleave(nh // nkv, 0)
            vv = vc[l, :, :start + n].repeat_interleave(nh // nkv, 0)
            a = F.scaled_dot_product_attention(q.transpose(0, 1), kk, vv, is_causal=(n > 1 and start == 0))
            x = x + a.transpose(0, 1).reshape(n, nh * hd) @ w["o"].T
            h = rms(x, w["n2"], 1e-5)
            gu = h @ w["gu"].T
            x = x + (F.silu(gu[:, :I]) * gu[:, I:]) @ w["down"].T
        return rms(x[-1:], norm, 1e-5) @ head.T

    ids = torch.randint(0, V, (T,), device=device, generator=g)
    times = []
    with torch.no_grad():
        for i in range(4):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            out = forward(ids, 0)
            e.record()
            torch.cuda.synchronize()
            if i > 0:
                times.append(s.elapsed_time(e))
        prefill = sorted(times)[len(times) // 2]
        nxt = out.argmax(-1)
        for i in range(4):
            nxt = forward(nxt, T + i).argmax(-1)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(N):
            nxt = forward(nxt, T + 4 + i).argmax(-1)
        torch.cuda.synchronize()
        per_token = (time.perf_counter() - t0) * 1e3 / N
    return {"torch": torch.__version__, "prefill_ms": prefill, "prefill_tokens_per_s": T / (prefill / 1e3),
            "decode_ms_per_token": per_token, "decode_tokens_per_s": 1e3 / per_token,
            "shapes": "llama-3.1-8b, bf16, eager PyTorch, SDPA attention, batch 1"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stories", required=True)
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    device = torch.device("cuda")
    result = {"device": torch.cuda.get_device_name(0), "stories260K": stories_reference(a.stories, device)}
    result["speed"] = speed_peer(a.tokens, a.decode, device)
    json.dump(result, open(a.out, "w"), indent=2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
