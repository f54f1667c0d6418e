#!/usr/bin/python3
"""Independent reference for gtgm's text/ area: BERT's tokenizer and forward pass in plain Python +
PyTorch (no `transformers`, no gtgm code), and a tiny random BERT checkpoint in Hugging Face layout.

Writes assets/bert_tiny/:
  config.json, vocab.txt, tokenizer_config.json   as `save_pretrained` writes them
  model.safetensors     BertModel keys (no prefix), written by hand (numpy + struct + json)
  pytorch_model.bin     BertForPreTraining-style keys ("bert." prefix, "cls.*" heads, position_ids
                        buffer), torch.save zip format
  tokenizer_cases.json  texts -> tokens / ids for several tokenizer settings
  text_encoder.pt       the same model as TorchScript (torch.jit.script), forward(ids, mask) -> [B, L, H]
  expected.safetensors  input ids/mask of a batch and the forward outputs (last hidden state,
                        [CLS], mean and pooler embeddings)

The tokenizer follows Hugging Face's BasicTokenizer + WordpieceTokenizer (transformers 4.3x):
_clean_text, _tokenize_chinese_chars, NFC, whitespace split, lower + strip accents (NFD, drop Mn),
punctuation split, greedy longest-match-first WordPiece with "##" and max 100 chars per word.
"""
import json
import os
import struct
import sys
import unicodedata

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "assets", "bert_tiny")

# ----------------------------------------------------------------------------- tokenizer


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


class BasicTokenizer:
    def __init__(self, do_lower_case=True, strip_accents=None, never_split=SPECIAL):
        self.do_lower_case = do_lower_case
        self.strip_accents = strip_accents
        self.never_split = set(never_split)

    def tokenize(self, text):
        text = self._clean_text(text)
        text = self._tokenize_chinese_chars(text)
        text = unicodedata.normalize("NFC", text)
        split_tokens = []
        for token in text.split():
            if token not in self.never_split:
                if self.do_lower_case:
                    token = token.lower()
                    if self.strip_accents is not False:
                        token = self._run_strip_accents(token)
                elif self.strip_accents:
                    token = self._run_strip_accents(token)
            split_tokens.extend(self._run_split_on_punc(token))
        return " ".join(split_tokens).split()

    @staticmethod
    def _run_strip_accents(text):
        return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")

    def _run_split_on_punc(self, text):
        if text in self.never_split:
            return [text]
        output, start_new_word = [], True
        for ch in text:
            if _is_punctuation(ch):
                output.append([ch])
                start_new_word = True
            else:
                if start_new_word:
                    output.append([])
                start_new_word = False
                output[-1].append(ch)
        return ["".join(x) for x in output]

    @staticmethod
    def _tokenize_chinese_chars(text):
        return "".join(f" {c} " if _is_chinese_char(ord(c)) else c for c in text)

    @staticmethod
    def _clean_text(text):
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or _is_control(ch):
                continue
            out.append(" " if _is_whitespace(ch) else ch)
        return "".join(out)


class WordpieceTokenizer:
    def __init__(self, vocab, unk_token="[UNK]", max_input_chars_per_word=100):
        self.vocab, self.unk_token, self.max_chars = vocab, unk_token, max_input_chars_per_word

    def tokenize(self, text):
        output = []
        for token in text.split():
            chars = list(token)
            if len(chars) > self.max_chars:
                output.append(self.unk_token)
                continue
            is_bad, start, sub_tokens = False, 0, []
            while start < len(chars):
                end, cur = len(chars), None
                while start < end:
                    substr = "".join(chars[start:end])
                    if start > 0:
                        substr = "##" + substr
                    if substr in self.vocab:
                        cur = substr
                        break
                    end -= 1
                if cur is None:
                    is_bad = True
                    break
                sub_tokens.append(cur)
                start = end
            output.extend([self.unk_token] if is_bad else sub_tokens)
        return output


def tokenize(vocab, text, **kw):
    basic = BasicTokenizer(**kw)
    wp = WordpieceTokenizer(vocab)
    out = []
    for tok in basic.tokenize(text):
        out.extend([tok] if tok in basic.never_split and tok in vocab else wp.tokenize(tok))
    return out


def encode(vocab, text, max_length, **kw):
    ids = [vocab.get(t, vocab["[UNK]"]) for t in tokenize(vocab, text, **kw)][:max_length - 2]
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]]


VOCAB = SPECIAL + list(".,;:()-/%'\"?![]（）") + [
    "the", "a", "of", "in", "and", "with", "is", "shows", "liver", "lesion", "hypo", "##dense", "hyper",
    "##intense", "ct", "mri", "scan", "mm", "cm", "slice", "slices", "axial", "left", "right", "kidney",
    "cafe", "café", "naive", "resume", "##s", "##ed", "##ing", "##ly", "un", "##known", "enhance",
    "##ment", "0", "1", "2", "3", "5", "##0", "##5", "small", "large", "ang", "##strom", "scale", "μ",
    "##m", "肝", "脏", "hello", "world", "Liver", "CT", "The", "MRI", "Café", "Ang", "##ström", "Å",
    "ångström", "σ", "ς", "region", "##ion", "##s", "mass", "low", "high", "density", "signal", "t", "##1",
    "##2", "weighted", "image", "abdomen", "pelvis", "chest", "brain", "tumor", "##ous", "##ic", "vessel",
    "hepatic", "portal", "vein", "contrast", "phase", "intensity", "mean", "std", "voxel", "spacing", "x",
    "에", "##요", "i", "##i", "ﬁ", "##ne",
]


def tokenizer_cases(vocab):
    texts = [
        "The liver shows a small hypodense lesion (5 mm).",
        "Café, naïve RÉSUMÉ: unknown-enhancement!",
        "CT\tscan\u00a0of the  left kidney\u200b;  xyzzy 肝脏 lesions",
        "cafe\u0301 re\u0301sume\u0301 Ca\u0301fe\u0301",
        "Ångström-scale μm slices, 10.5 cm",
        "a" * 101 + " liver " + "a" * 100,
        "[CLS] hello [MASK] world [SEP]",
        "\x00\x07control\x1fchars\ufffd hepatic（portal）vein",
        "에요 ﬁne fine T1-weighted MRI Σ",
        "",
        "   \n\t ",
        "Hyperintense   mass in the Left Kidney; contrast-enhanced phase",
    ]
    settings = [
        {"lower_case": True, "strip_accents": None},
        {"lower_case": False, "strip_accents": None},
        {"lower_case": False, "strip_accents": True},
        {"lower_case": True, "strip_accents": False},
    ]
    cases = []
    for s in settings:
        for t in texts:
            kw = {"do_lower_case": s["lower_case"], "strip_accents": s["strip_accents"]}
            toks = tokenize(vocab, t, **kw)
            cases.append({"text": t, **s, "tokens": toks, "ids": [vocab.get(x, vocab["[UNK]"]) for x in toks],
                          "encoded_max8": encode(vocab, t, 8, **kw)})
    return cases


# ----------------------------------------------------------------------------- model

CONFIG = {
    "architectures": ["BertForPreTraining"], "model_type": "bert", "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 12, "initializer_range": 0.02,
    "intermediate_size": 24, "layer_norm_eps": 1e-3, "max_position_embeddings": 32,
    "num_attention_heads": 3, "num_hidden_layers": 2, "pad_token_id": 0,
    "position_embedding_type": "absolute", "type_vocab_size": 2, "vocab_size": None,
}


class Embeddings(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H = cfg["hidden_size"]
        self.word_embeddings = torch.nn.Embedding(cfg["vocab_size"], H)
        self.position_embeddings = torch.nn.Embedding(cfg["max_position_embeddings"], H)
        self.token_type_embeddings = torch.nn.Embedding(cfg["type_vocab_size"], H)
        self.LayerNorm = torch.nn.LayerNorm(H, eps=cfg["layer_norm_eps"])

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(pos).unsqueeze(0) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class SelfAttention(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        H = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.hd = H // self.nh
        self.query, self.key, self.value = (torch.nn.Linear(H, H) for _ in range(3))

    def forward(self, x, additive_mask):
        B, L, H = x.shape
        q = self.query(x).view(B, L, self.nh, self.hd).permute(0, 2, 1, 3)
        k = self.key(x).view(B, L, self.nh, self.hd).permute(0, 2, 1, 3)
        v = self.value(x).view(B, L, self.nh, self.hd).permute(0, 2, 1, 3)
        scores = q @ k.transpose(-1, -2) / (self.hd ** 0.5) + additive_mask
        return (torch.softmax(scores, dim=-1) @ v).permute(0, 2, 1, 3).reshape(B, L, H)


class DenseNorm(torch.nn.Module):
    """dense -> + residual -> LayerNorm (post-LN), as BertSelfOutput / BertOutput."""

    def __init__(self, n_in, cfg):
        super().__init__()
        self.dense = torch.nn.Linear(n_in, cfg["hidden_size"])
        self.LayerNorm = torch.nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dense(x) + residual)


class Attention(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        setattr(self, "self", SelfAttention(cfg))  # HF key "attention.self.query.weight"
        self.output = DenseNorm(cfg["hidden_size"], cfg)

    def forward(self, x, additive_mask):
        return self.output(getattr(self, "self")(x, additive_mask), x)


class Intermediate(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = torch.nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])

    def forward(self, x):
        return torch.nn.functional.gelu(self.dense(x))  # erf GELU ("gelu")


class Layer(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = DenseNorm(cfg["intermediate_size"], cfg)

    def forward(self, x, additive_mask):
        a = self.attention(x, additive_mask)
        return self.output(self.intermediate(a), a)


class Encoder(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = torch.nn.ModuleList([Layer(cfg) for _ in range(cfg["num_hidden_layers"])])

    def forward(self, x, additive_mask):
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


class Pooler(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = torch.nn.Linear(cfg["hidden_size"], cfg["hidden_size"])

    def forward(self, x):
        return torch.tanh(self.dense(x[:, 0]))


class Bert(torch.nn.Module):
    """BERT encoder (HF BertModel in eval mode); forward returns the last hidden state [B, L, H]."""

    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        self.pooler = Pooler(cfg)

    def forward(self, input_ids, attention_mask):
        types = torch.zeros_like(input_ids)
        additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -3.4028234663852886e38  # torch.finfo(float32).min, as HF
        return self.encoder(self.embeddings(input_ids, types), additive)


def make_model(cfg, gen):
    model = Bert(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embeddings" in name:
                p.copy_((1.0 if "word" in name else 0.5) * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / p.shape[1] ** 0.5)
    return model


def pooled(model, x, mask):
    m = mask.to(torch.float32)[..., None]
    return {"cls": x[:, 0], "mean": (x * m).sum(1) / m.sum(1).clamp(min=1e-9), "pooler": model.pooler(x)}


# ----------------------------------------------------------------------------- files

ST_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write_safetensors(path, tensors, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


SENTENCES = [
    "The liver shows a small hypodense lesion (5 mm).",
    "Axial CT slice of the abdomen: hepatic portal vein, contrast phase.",
    "Hyperintense mass in the left kidney; mean intensity 105, std 20, unknown xyzzy.",
    "MRI brain, T1-weighted image with naïve café contrast enhancement of a large tumor region",
]


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab_list = list(dict.fromkeys(VOCAB))  # unique, order kept
    vocab = {t: i for i, t in enumerate(vocab_list)}
    with open(os.path.join(OUT, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab_list) + "\n")
    cfg = dict(CONFIG, vocab_size=len(vocab_list))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(OUT, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "model_max_length": 32, "tokenizer_class": "BertTokenizer"}, f, indent=2)
    with open(os.path.join(OUT, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"unicode_version": unicodedata.unidata_version, "cases": tokenizer_cases(vocab)}, f,
                  ensure_ascii=False, indent=0)

    gen = torch.Generator().manual_seed(1234)
    model = make_model(cfg, gen)
    w = {k: v.detach().clone() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(OUT, "model.safetensors"), w, {"format": "pt"})
    sd = {"bert." + k: v.clone() for k, v in w.items()}
    sd["bert.embeddings.position_ids"] = torch.arange(cfg["max_position_embeddings"]).unsqueeze(0)
    sd["cls.predictions.bias"] = torch.zeros(cfg["vocab_size"])
    sd["cls.seq_relationship.weight"] = torch.randn(2, cfg["hidden_size"], generator=gen)
    torch.save(sd, os.path.join(OUT, "pytorch_model.bin"))  # zip format (torch >= 1.6 default)

    max_length = 20
    rows = [encode(vocab, s, max_length, do_lower_case=True) for s in SENTENCES]
    L = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), L, dtype=torch.int64)
    mask = torch.zeros(len(rows), L, dtype=torch.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    with torch.no_grad():
        hidden = model(ids, mask)
        out = {"last_hidden_state": hidden, **pooled(model, hidden, mask)}
    expected = {"input_ids": ids, "attention_mask": mask}
    expected.update({k: v.contiguous() for k, v in out.items()})
    # Any exported text model for `type: torchscript`: forward(input_ids, attention_mask) -> [B, L, H].
    torch.jit.script(model).save(os.path.join(OUT, "text_encoder.pt"))
    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected,
                      {"sentences": json.dumps(SENTENCES), "max_length": str(max_length)})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"bert_reference: wrote {OUT} ({total} bytes), vocab {len(vocab_list)}, ids\n{ids}")


if __name__ == "__main__":
    sys.exit(main())
