"""Synthetic scenes: sample one or two coloured shapes on a background, draw them, caption them.

A scene is a plain dict so captions can be regenerated with fresh phrasing every time it is used.
"""
import math
import random

import numpy as np
from PIL import Image, ImageDraw

SIZE = 128
SS = 4  # supersampling factor for anti-aliased edges

PALETTE = {
    'red': (220, 30, 35),
    'orange': (255, 140, 0),
    'yellow': (250, 225, 30),
    'green': (30, 160, 60),
    'cyan': (40, 210, 230),
    'blue': (30, 60, 210),
    'purple': (135, 40, 175),
    'pink': (255, 125, 195),
    'white': (245, 245, 245),
    'black': (20, 20, 20),
}
COLOURS = list(PALETTE)
SHAPES = ['circle', 'square', 'triangle', 'star', 'ring']
SIZES = {'small': 12.0, 'large': 20.0}  # half extent in pixels (small was 10: the VAE lost the points of small stars)
POSITIONS = {
    'centre': (0.5, 0.5),
    'left': (0.2, 0.5),
    'right': (0.8, 0.5),
    'top': (0.5, 0.2),
    'bottom': (0.5, 0.8),
    'top left': (0.2, 0.2),
    'top right': (0.8, 0.2),
    'bottom left': (0.2, 0.8),
    'bottom right': (0.8, 0.8),
}
# Colour x shape pairs never drawn in training, to test generalisation.
HELD_OUT = {('purple', 'triangle'), ('orange', 'ring'), ('cyan', 'star'), ('pink', 'square')}


def sample_object(rng):
    while True:
        colour, shape = rng.choice(COLOURS), rng.choice(SHAPES)
        if (colour, shape) not in HELD_OUT:
            break
    return {
        'colour': colour,
        'shape': shape,
        'size': rng.choice(list(SIZES)),
        'position': rng.choice(list(POSITIONS)),
        'jitter': (rng.uniform(-3, 3), rng.uniform(-3, 3), rng.uniform(0.92, 1.08)),
    }


def _box(obj):
    fx, fy = POSITIONS[obj['position']]
    jx, jy, js = obj['jitter']
    h = SIZES[obj['size']] * js
    cx, cy = fx * SIZE + jx, fy * SIZE + jy
    return cx - h, cy - h, cx + h, cy + h


def _overlap(a, b, margin=4.0):
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    return not (ax1 + margin < bx0 or bx1 + margin < ax0 or ay1 + margin < by0 or by1 + margin < ay0)


def sample_scene(rng):
    """A background (solid 70%, gradient 15%, stripes 15%) and one or two non-overlapping objects."""
    r = rng.random()
    kind = 'solid' if r < 0.7 else ('gradient' if r < 0.85 else 'stripes')
    bg = [rng.choice(COLOURS)]
    if kind != 'solid':
        bg.append(rng.choice([c for c in COLOURS if c != bg[0]]))
    objects = []
    count = 1 if rng.random() < 0.5 else 2
    while len(objects) < count:
        obj = sample_object(rng)
        if obj['colour'] in bg:
            continue
        if objects and (_overlap(objects[0], obj) or objects[0]['position'] == obj['position']):
            continue
        objects.append(obj)
    return {'background': {'kind': kind, 'colours': bg}, 'objects': objects}


def _star_points(cx, cy, outer, inner):
    pts = []
    for i in range(10):
        a = -math.pi / 2 + i * math.pi / 5
        rad = outer if i % 2 == 0 else inner
        pts.append((cx + rad * math.cos(a), cy + rad * math.sin(a)))
    return pts


def _mask(obj):
    """Anti-aliased coverage mask in [0,1] of one object."""
    im = Image.new('L', (SIZE * SS, SIZE * SS), 0)
    d = ImageDraw.Draw(im)
    x0, y0, x1, y1 = (v * SS for v in _box(obj))
    cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    shape = obj['shape']
    if shape == 'circle':
        d.ellipse([x0, y0, x1, y1], fill=255)
    elif shape == 'ring':
        d.ellipse([x0, y0, x1, y1], fill=255)
        k = 0.5 * h
        d.ellipse([cx - k, cy - k, cx + k, cy + k], fill=0)
    elif shape == 'square':
        k = 0.9 * h
        d.rectangle([cx - k, cy - k, cx + k, cy + k], fill=255)
    elif shape == 'triangle':
        d.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=255)
    elif shape == 'star':
        outer = 1.08 * h
        d.polygon(_star_points(cx, cy + 0.1 * outer, outer, 0.42 * outer), fill=255)
    im = im.resize((SIZE, SIZE), Image.BOX)
    return np.asarray(im, dtype=np.float32) / 255.0


def _background(bg):
    cols = [np.array(PALETTE[c], dtype=np.float32) for c in bg['colours']]
    img = np.empty((SIZE, SIZE, 3), dtype=np.float32)
    if bg['kind'] == 'solid':
        img[:] = cols[0]
    elif bg['kind'] == 'gradient':  # first colour at the top, second at the bottom
        w = np.linspace(0.0, 1.0, SIZE, dtype=np.float32)[:, None, None]
        img[:] = cols[0] * (1 - w) + cols[1] * w
    else:  # eight horizontal stripes, starting with the first colour
        band = (np.arange(SIZE) // (SIZE // 8)) % 2
        img[:] = np.where(band[:, None, None] == 0, cols[0], cols[1])
    return img


def render(scene):
    """uint8 RGB image [SIZE, SIZE, 3]."""
    img = _background(scene['background'])
    for obj in scene['objects']:
        a = _mask(obj)[:, :, None]
        img = img * (1 - a) + np.array(PALETTE[obj['colour']], dtype=np.float32) * a
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- captions

SIZE_WORDS = {'small': ['small', 'small', 'little', 'tiny'], 'large': ['large', 'large', 'big']}
POS_PHRASES = {
    'centre': ['in the centre', 'in the center', 'in the middle', 'at the centre'],
    'left': ['on the left', 'at the left'],
    'right': ['on the right', 'at the right'],
    'top': ['at the top', 'on top'],
    'bottom': ['at the bottom', 'on the bottom'],
}
for _v in ('top', 'bottom'):
    for _h in ('left', 'right'):
        POS_PHRASES[f'{_v} {_h}'] = [
            f'at the {_v} {_h}',
            f'in the {_v} {_h} corner',
            f'in the {_v} {_h}',
            f"at the {'upper' if _v == 'top' else 'lower'} {_h}",
        ]


def _article(word):
    return 'an' if word[0] in 'aeiou' else 'a'


def _object_phrase(obj, rng, keep):
    words = []
    if keep['size']:
        words.append(rng.choice(SIZE_WORDS[obj['size']]))
    if keep['colour']:
        words.append(obj['colour'])
    words.append(obj['shape'])
    text = f"{_article(words[0])} {' '.join(words)}"
    if keep['position']:
        text += ' ' + rng.choice(POS_PHRASES[obj['position']])
    return text


def _background_phrase(bg, rng):
    c = bg['colours']
    if bg['kind'] == 'solid':
        return rng.choice([f'{_article(c[0])} {c[0]} background', f'a plain {c[0]} background', f'{c[0]}'])
    if bg['kind'] == 'gradient':
        return rng.choice([f'a gradient from {c[0]} to {c[1]}', f'{_article(c[0])} {c[0]} to {c[1]} gradient'])
    return rng.choice([f'{c[0]} and {c[1]} stripes', f'a background of {c[0]} and {c[1]} stripes'])


def caption(scene, rng):
    """A plain-English caption with random phrasing, word order and omitted details."""
    objs = list(scene['objects'])
    if len(objs) == 2 and rng.random() < 0.5:
        objs.reverse()
    keep_bg = rng.random() < 0.75
    phrases = []
    for obj in objs:
        keep = {
            'size': rng.random() < 0.7,
            'colour': rng.random() < 0.9,
            'position': rng.random() < 0.7,
        }
        phrases.append(_object_phrase(obj, rng, keep))
    things = ' and '.join(phrases)
    if not keep_bg:
        return rng.choice([things, f'there is {things}', things])
    bgp = _background_phrase(scene['background'], rng)
    style = rng.randrange(5)
    if style == 0:
        return f'{things} on {bgp}'
    if style == 1:
        return f'{things} against {bgp}'
    if style == 2:
        bgn = bgp if bgp.startswith(('a ', 'an ')) else f'{_article(bgp)} {bgp} background' if bg_solid(scene) else bgp
        return f'{bgn} with {things}'
    if style == 3:
        return f'on {bgp}, {things}'
    return f'there is {things} on {bgp}'


def bg_solid(scene):
    return scene['background']['kind'] == 'solid'


def colour_only_caption(scene, rng):
    """Rare short captions ("red", "a red shape") that teach what a colour word alone means."""
    c = scene['objects'][0]['colour']
    return rng.choice([c, f'{_article(c)} {c} shape', f'something {c}'])


ALL_WORDS = sorted(
    set(
        COLOURS
        + SHAPES
        + [w for ws in SIZE_WORDS.values() for w in ws]
        + 'a an the in on at of to from and with against there is plain background gradient stripes shape something'.split()
        + 'centre center middle left right top bottom upper lower corner'.split()
        + [',']
    )
)


if __name__ == '__main__':
    r = random.Random(0)
    for _ in range(12):
        s = sample_scene(r)
        print(caption(s, r))
