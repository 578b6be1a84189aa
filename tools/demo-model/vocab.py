"""A CLIP-format byte-level BPE tokenizer (vocab.json + merges.txt) for the caption vocabulary.

Layout follows openai/clip-vit-large-patch14: the 256 GPT-2 byte symbols, then their `</w>` forms,
then one entry per merge result, then `<|startoftext|>` and `<|endoftext|>` as the last two ids.
Merges build every caption word as a single `word</w>` token; other text falls back to bytes.
"""
import json
import os
import re

MAX_LEN = 77
BOS, EOS = '<|startoftext|>', '<|endoftext|>'
# CLIP's pattern, with \p{L} / \p{N} approximated for the ASCII captions we train on.
PAT = re.compile(r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.IGNORECASE)


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode map."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


BYTE_ENCODER = bytes_to_unicode()


def _symbols(word):
    chars = [BYTE_ENCODER[b] for b in word.encode('utf-8')]
    return chars[:-1] + [chars[-1] + '</w>']


def bpe(word, ranks):
    """CLIP's BPE: repeatedly merge the lowest-ranked adjacent pair."""
    syms = _symbols(word)
    while len(syms) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        a, b = syms[i], syms[i + 1]
        out, j = [], 0
        while j < len(syms):
            if j < len(syms) - 1 and syms[j] == a and syms[j + 1] == b:
                out.append(a + b)
                j += 2
            else:
                out.append(syms[j])
                j += 1
        syms = out
    return syms


def build(words):
    """Merges (in rank order) and vocab so that each word becomes one token."""
    merges, ranks = [], {}
    for w in words:
        while True:
            syms = bpe(w, ranks)
            if len(syms) == 1:
                break
            pair = (syms[0], syms[1])  # new merges rank last, so earlier words are unaffected
            ranks[pair] = len(merges)
            merges.append(pair)
    base = list(BYTE_ENCODER.values())
    vocab = {}
    for s in base + [s + '</w>' for s in base]:
        vocab[s] = len(vocab)
    for a, b in merges:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
    vocab[BOS] = len(vocab)
    vocab[EOS] = len(vocab)
    for w in words:
        assert bpe(w, ranks) == [_symbols(w)[0] if len(w) == 1 else ''.join(_symbols(w))], w
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}

    def encode(self, text):
        """[BOS] + ids + [EOS], padded with EOS to 77 (truncated to 75 word ids)."""
        text = ' '.join(text.split()).lower()
        ids = []
        for piece in PAT.findall(text):
            for sym in bpe(piece, self.ranks):
                ids.append(self.vocab[sym])
        ids = [self.vocab[BOS]] + ids[: MAX_LEN - 2] + [self.vocab[EOS]]
        return ids + [self.vocab[EOS]] * (MAX_LEN - len(ids))


def save(folder, vocab, merges):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n')
        for a, b in merges:
            f.write(f'{a} {b}\n')
    token = lambda c: {'content': c, 'lstrip': False, 'normalized': True, 'rstrip': False, 'single_word': False}
    with open(os.path.join(folder, 'special_tokens_map.json'), 'w') as f:
        json.dump({'bos_token': token(BOS), 'eos_token': token(EOS), 'pad_token': EOS, 'unk_token': token(EOS)}, f, indent=2)
    cfg = {
        'add_prefix_space': False,
        'bos_token': dict(token(BOS), __type='AddedToken'),
        'do_lower_case': True,
        'eos_token': dict(token(EOS), __type='AddedToken'),
        'errors': 'replace',
        'model_max_length': MAX_LEN,
        'pad_token': EOS,
        'tokenizer_class': 'CLIPTokenizer',
        'unk_token': dict(token(EOS), __type='AddedToken'),
    }
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump(cfg, f, indent=2)


if __name__ == '__main__':
    import scenes

    v, m = build(scenes.ALL_WORDS)
    t = Tokenizer(v, m)
    print(len(v), len(m), t.encode('A large red circle, on a blue background')[:12])
