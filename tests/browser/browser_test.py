#!/usr/bin/env python3
"""The HTML pages of `attend show` and `attend plot`, opened in headless Chromium.

Makes real pages with the attend binary (tiny models trained in a few seconds), opens each in one
headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe; Python's
standard library only, nothing from PyPI), and checks what a person would see:

  every page     loads with no console error, no uncaught exception and no failed resource; a
                 screenshot of it is not blank
  heat maps      every cell of the map on show is painted in the colour its <rect> holds (read
                 back from a screenshot, so the browser really drew it); a real pointer move over
                 a cell shows the read-out with that cell's map, query and key tokens and a value
                 equal to the page's own data-v to 3 significant digits, and outlines the cell;
                 another cell updates the read-out; leaving the map hides it
  drop-downs     (show --attention ...) one map shows at a time, the one whose keys the drop-downs
                 name; a key press on a drop-down (ArrowDown, as a user changes it) shows the
                 matching map and the drawn pixels change; a choice with no map says so
  pictures       (show --image) every embedded picture decodes at its size and is drawn

Exits 0 when every check passes, 1 with a message naming the page and the check that failed, and
77 (SKIP_RETURN_CODE in tests/CMakeLists.txt) when Chromium is not installed.

  tests/browser/browser_test.py --attend build/attend [--work DIR] [--screenshots docs/images]

ATTEND_CHROMIUM names the browser (default: chromium on PATH); --screenshots (or
ATTEND_BROWSER_DOCS_DIR) also writes each page kind's screenshot there (the ones in docs/images).
"""

import argparse
import base64
import gzip
import json
import os
import random
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class CheckFailed(Exception):
    pass


def check(ok, page, what):
    if not ok:
        raise CheckFailed(f"{page}: {what}")


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------------
# PNG decoding (8-bit RGB/RGBA, not interlaced: what Chromium's screenshots are)

def decode_png(data, origin=(0, 0)):
    """The picture; pixel(x, y) takes page coordinates, `origin` being the page point of its top left."""
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "screenshot", "not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            check(depth == 8 and ctype in (2, 6) and interlace == 0, "screenshot",
                  f"unexpected PNG format (depth {depth}, colour type {ctype}, interlace {interlace})")
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = width * bpp
    low, high = int.from_bytes(b"\x7f" * stride, "big"), int.from_bytes(b"\x80" * stride, "big")
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 2:  # "up", the common filter: every byte plus the one above, mod 256, in one big-int sum
            a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
            line = bytearray((((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big"))
        for i in range(stride if f in (1, 3, 4) else 0):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line

    class Picture:
        pass

    pic = Picture()
    ox, oy = origin
    pic.left, pic.top, pic.right, pic.bottom = ox, oy, ox + width, oy + height
    pic.pixel = lambda x, y: tuple(rows[y - oy][(x - ox) * bpp:(x - ox) * bpp + 3])
    pic.inside = lambda x, y: ox <= x < ox + width and oy <= y < oy + height
    return pic


# ---------------------------------------------------------------------------------------------
# Chromium over the DevTools protocol on a pipe: commands on fd 3, replies and events on fd 4,
# each message JSON followed by a NUL byte.

class Browser:
    def __init__(self, exe, timeout):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="attend-chromium-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            a, b = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             "--mute-audio", "--hide-scrollbars", "--force-color-profile=srgb",
             "--force-device-scale-factor=1", "--allow-file-access-from-files", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire, pass_fds=(3, 4))
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except Exception:
                    pass
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            for fd in (self.to_browser, self.from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CheckFailed("chromium: no answer within the time limit")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                err = self.proc.stderr.read().decode(errors="replace")[-2000:] if self.proc.poll() is not None else ""
                raise CheckFailed(f"chromium closed its DevTools pipe (exit {self.proc.poll()}): {err}")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self.to_browser, data):]
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise CheckFailed(f"chromium: {method}: {m['error'].get('message')}")
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def wait_event(self, method, session, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            m = self._read_message(deadline)
            if "method" in m:
                self.events.append(m)


class Tab:
    """One page in its own tab; collects its console errors, exceptions and failed loads."""

    def __init__(self, browser, path, name):
        self.b, self.name = browser, name
        self.target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": self.target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.cmd(f"{domain}.enable")
        self.viewport(1000, 800)
        self.cmd("Page.navigate", {"url": "file://" + os.path.abspath(path)})
        self.b.wait_event("Page.loadEventFired", self.session)
        self.fit()

    def cmd(self, method, params=None):
        return self.b.send(method, params, self.session)

    def eval(self, expr):
        r = self.cmd("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CheckFailed(f"{self.name}: the test's script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def errors(self):
        """Console errors, uncaught exceptions and failed loads reported so far."""
        self.eval("0")  # flush pending events
        out, keep = [], []
        for e in self.b.events:
            if e.get("sessionId") != self.session:
                keep.append(e)
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append("uncaught exception: " + (d.get("exception", {}).get("description") or d.get("text", "")))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in p["args"]))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append("log: " + p["entry"].get("text", ""))
        self.b.events = keep
        return out

    def viewport(self, w, h):
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": w, "height": h, "deviceScaleFactor": 1, "mobile": False})

    def fit(self):
        """Makes the viewport as large as the page's content, no larger (for the screenshot)."""
        self.viewport(2000, 200)
        w = self.eval("""(() => {  // the right edge of the text, the maps, the drop-downs and the read-out
            let right = 0;
            const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            while (walk.nextNode()) {
              const r = document.createRange();
              r.selectNodeContents(walk.currentNode);
              right = Math.max(right, r.getBoundingClientRect().right);
            }
            for (const e of document.querySelectorAll('svg, select, #tip'))
              right = Math.max(right, e.getBoundingClientRect().right);
            return Math.ceil(right) + 16; })()""")
        self.viewport(min(max(w, 200), 2000), 200)
        h = self.eval("Math.max(document.documentElement.scrollHeight, "
                      "document.getElementById('tip') ? document.getElementById('tip').getBoundingClientRect().bottom + 16 : 0)")
        self.viewport(min(max(w, 200), 2000), min(max(int(h), 100), 2000))
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def screenshot(self, clip=None):
        """The page as drawn (PNG bytes and decoded), or the part of it in clip = (x, y, w, h)."""
        params = {"format": "png"}
        if clip:
            x, y, w, h = (int(v) for v in clip)
            params["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": 1}
        png = base64.b64decode(self.cmd("Page.captureScreenshot", params)["data"])
        return png, decode_png(png, (x, y) if clip else (0, 0))

    def mouse(self, x, y):
        self.cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y, "button": "none"})
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def key(self, select_index, key="ArrowDown"):
        """Focuses drop-down number `select_index` and presses a key on it, as a user would."""
        self.eval(f"document.querySelectorAll('select')[{select_index}].focus()")
        codes = {"ArrowDown": 40, "ArrowUp": 38}
        for kind in ("rawKeyDown", "keyUp"):
            self.cmd("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": codes[key]})
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def close(self):
        self.b.send("Target.closeTarget", {"targetId": self.target})


# ---------------------------------------------------------------------------------------------
# Page checks

# The cells of the heat map on show: position on screen (centre), fill and data-* attributes.
VISIBLE_CELLS = """
(() => Array.from(document.querySelectorAll('rect[data-v]')).map(r => [r, r.getBoundingClientRect()])
  .filter(([r, b]) => b.width > 0 && b.height > 0)  // a map in a hidden page has no box
  .map(([r, b]) => ({x: b.left + b.width / 2, y: b.top + b.height / 2, w: b.width, h: b.height,
                     fill: r.getAttribute('fill'), d: Object.assign({}, r.dataset)})))()
"""


# The one SVG on show: its box, and the boxes of its colour bars (rects filled with a gradient).
VISIBLE_SVG = """
Array.from(document.querySelectorAll('svg')).map(s => [s, s.getBoundingClientRect()])
  .filter(([s, b]) => b.width > 0 && b.height > 0)
  .map(([s, b]) => ({box: [Math.floor(b.left), Math.floor(b.top), Math.ceil(b.width), Math.ceil(b.height)],
                     bars: Array.from(s.querySelectorAll('rect[fill^="url("]')).map(r => {
                       const c = r.getBoundingClientRect(); return [c.left, c.top, c.width, c.height]; })}))
"""


def hex_rgb(h):
    h = h.lstrip("#")
    return tuple(int(h[i:i + 2], 16) for i in (0, 2, 4))


def close_colour(a, b, tol=3):
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def check_errors(tab):
    errs = tab.errors()
    check(not errs, tab.name, "the page reported errors:\n  " + "\n  ".join(errs))


def check_not_blank(tab, pic):
    colours = set()
    w, h = pic.right - pic.left, pic.bottom - pic.top
    for y in range(pic.top, pic.bottom, max(1, h // 60)):
        for x in range(pic.left, pic.right, max(1, w // 60)):
            colours.add(pic.pixel(x, y))
    check(len(colours) >= 8, tab.name, f"the screenshot is nearly blank ({len(colours)} colours)")


def cells_drawn(tab, what):
    """Checks every visible cell is painted in its fill colour; returns the cells and their pixels."""
    cells = tab.eval(VISIBLE_CELLS)
    check(cells, tab.name, f"{what}: no heat-map cell on show")
    svg = tab.eval(VISIBLE_SVG)
    check(len(svg) == 1, tab.name, f"{what}: {len(svg)} maps on show, expected one")
    _, pic = tab.screenshot(svg[0]["box"])
    check_not_blank(tab, pic)
    # The colour bar: a gradient from the colour map's top colour down to its bottom one.
    for (x, y, w, h) in svg[0]["bars"]:
        column = [pic.pixel(int(x + w / 2), int(y + h * (k + 0.5) / 8)) for k in range(8)]
        check(len(set(column)) >= 6, tab.name, f"{what}: the colour bar is not drawn as a gradient: {column}")
    pixels = []
    for c in cells:
        x, y = int(c["x"]), int(c["y"])
        check(pic.inside(x, y), tab.name, f"{what}: cell {c['d']} at ({x}, {y}) lies outside its map's picture")
        got, want = pic.pixel(x, y), hex_rgb(c["fill"])
        check(close_colour(got, want), tab.name,
              f"{what}: cell (query {c['d']['qi']}, key {c['d']['ki']}) is drawn {got}, its fill is {want}")
        pixels.append(got)
    return cells, pixels


def sig3(v):
    return f"{float(v):.3g}"


def check_hover(tab, cells, what):
    """A real pointer move over a cell shows its read-out; another cell updates it; outside hides it."""
    by_value = sorted(cells, key=lambda c: float(c["d"]["v"]))
    for c in (by_value[-1], by_value[len(by_value) // 3]):  # the largest weight, then a smaller one
        tab.mouse(c["x"], c["y"])
        tip = tab.eval("""(() => { const t = document.getElementById('tip');
            const r = t.getBoundingClientRect();
            return {shown: getComputedStyle(t).display !== 'none', text: t.textContent,
                    left: r.left, top: r.top}; })()""")
        d = c["d"]
        cell = f"{what}: cell (query {d['qi']}, key {d['ki']})"
        check(tip["shown"], tab.name, f"{cell}: the pointer over it shows no read-out")
        m = re.search(r"^value (\S+)$", tip["text"], re.M)
        check(m, tab.name, f"{cell}: the read-out has no value: {tip['text']!r}")
        check(sig3(m.group(1)) == sig3(d["v"]), tab.name,
              f"{cell}: the read-out says {m.group(1)}, the page's data holds {d['v']}")
        check(f"query {d['qi']}: {d['q']}" in tip["text"] and re.search(rf"^key +{d['ki']}: {re.escape(d['k'])}$",
                                                                       tip["text"], re.M),
              tab.name, f"{cell}: the read-out names other tokens: {tip['text']!r}")
        if "c" in d:
            check(tip["text"].startswith(d["c"] + "\n"), tab.name,
                  f"{cell}: the read-out does not name the map {d['c']!r}: {tip['text']!r}")
        check(c["x"] < tip["left"] < c["x"] + 40 and c["y"] < tip["top"] < c["y"] + 40, tab.name,
              f"{cell}: the read-out is at ({tip['left']}, {tip['top']}), not beside the pointer")
        stroke = tab.eval(f"""(() => {{ const e = document.elementFromPoint({c['x']}, {c['y']});
            return e && e.dataset.v !== undefined ? [e.dataset.qi, e.dataset.ki, getComputedStyle(e).stroke]
                                                  : null; }})()""")
        check(stroke and stroke[:2] == [d["qi"], d["ki"]], tab.name, f"{cell}: another element is under the pointer")
        check(stroke[2] == "rgb(228, 0, 43)", tab.name, f"{cell}: the cell under the pointer is not outlined ({stroke[2]})")
    tab.mouse(2, 2)
    check(not tab.eval("getComputedStyle(document.getElementById('tip')).display !== 'none'"), tab.name,
          f"{what}: the read-out stays on after the pointer left the map")


def check_heatmap_page(tab):
    cells, _ = cells_drawn(tab, "the map")
    check_hover(tab, cells, "the map")
    log(f"  ok  {tab.name}: {len(cells)} cells drawn in their colours, read-out under the pointer")


def browser_state(tab):
    return tab.eval("""(() => {
      const sel = Array.from(document.querySelectorAll('select[data-s]')).map(s => s.value);
      const shown = Array.from(document.querySelectorAll('.page')).filter(p => getComputedStyle(p).display !== 'none')
        .map(p => sel.map((_, i) => p.dataset['k' + i]));
      const none = getComputedStyle(document.getElementById('none')).display !== 'none';
      return {sel: sel, shown: shown, none: none,
              options: Array.from(document.querySelectorAll('select[data-s]')).map(s => Array.from(s.options).map(o => o.value)),
              pages: Array.from(document.querySelectorAll('.page')).map(p => sel.map((_, i) => p.dataset['k' + i]))};
    })()""")


def check_browser_page(tab, steps, final):
    """`steps`: (select index, expect a map?) pressed in turn with ArrowDown; `final`: the select
    values to end on (chosen by key presses too) for the screenshot."""
    st = browser_state(tab)
    check(st["pages"], tab.name, "no maps in the page")
    check(st["sel"] == st["pages"][0] and st["shown"] == [st["pages"][0]] and not st["none"], tab.name,
          f"at load the first map should show alone: drop-downs {st['sel']}, shown {st['shown']}")
    cells, pixels = cells_drawn(tab, "map " + " / ".join(st["sel"]))
    check_hover(tab, cells, "map " + " / ".join(st["sel"]))
    log(f"  ok  {tab.name}: {' / '.join(st['sel'])} at load: drawn alone, its read-out under the pointer")
    changes = 0
    for s, want_map in steps:
        before = st
        tab.key(s)
        st = browser_state(tab)
        what = "map " + " / ".join(st["sel"])
        opts = before["options"][s]
        expect = opts[min(opts.index(before["sel"][s]) + 1, len(opts) - 1)]
        check(st["sel"][s] == expect, tab.name,
              f"ArrowDown on drop-down {s} left it at {st['sel'][s]!r}, expected {expect!r}")
        exists = st["sel"] in st["pages"]
        check(exists == want_map, tab.name, f"{what}: the test expected {'a' if want_map else 'no'} map here")
        if not exists:
            check(st["none"] and not st["shown"], tab.name,
                  f"{what}: no map has these keys, yet the page shows {st['shown']} and no notice")
            log(f"  ok  {tab.name}: {' / '.join(st['sel'])}: no such map, the page says so")
            continue
        check(st["shown"] == [st["sel"]] and not st["none"], tab.name,
              f"drop-downs {st['sel']}: the page shows {st['shown']} (notice: {st['none']})")
        new_cells, new_pixels = cells_drawn(tab, what)
        if [c["d"]["v"] for c in new_cells] != [c["d"]["v"] for c in cells]:
            check(new_pixels != pixels, tab.name, f"{what}: the drawn map did not change with the drop-down")
            changes += 1
        check_hover(tab, new_cells, what)
        log(f"  ok  {tab.name}: {' / '.join(st['sel'])}: drawn, its read-out under the pointer")
        cells, pixels = new_cells, new_pixels
    check(changes >= 1, tab.name, "no drop-down change redrew the map")
    for s, value in enumerate(final):
        for _ in range(len(st["options"][s])):
            if browser_state(tab)["sel"][s] == value:
                break
            tab.key(s, "ArrowUp" if st["options"][s].index(value) < st["options"][s].index(browser_state(tab)["sel"][s])
                    else "ArrowDown")
        check(browser_state(tab)["sel"][s] == value, tab.name, f"cannot choose {value!r} in drop-down {s}")
    cells, _ = cells_drawn(tab, "map " + " / ".join(final))
    return cells


def check_picture_page(tab):
    pics = tab.eval("""Promise.all(Array.from(document.querySelectorAll('image')).map(im => {
        const i = new Image(); i.src = im.getAttribute('href');
        return i.decode().then(() => [i.naturalWidth, i.naturalHeight], e => String(e)); }))""")
    check(pics, tab.name, "no pictures in the page")
    for p in pics:
        check(isinstance(p, list) and p[0] > 0, tab.name, f"an embedded picture does not decode: {p}")
    boxes = tab.eval("Array.from(document.querySelectorAll('image')).map(im => { const b = im.getBoundingClientRect();"
                     " return [b.left, b.top, b.width, b.height]; })")
    _, pic = tab.screenshot(tab.eval(VISIBLE_SVG)[0]["box"])
    check_not_blank(tab, pic)
    for (x, y, w, h) in boxes:
        colours = {pic.pixel(int(x + w * i / 8), int(y + h * j / 8)) for i in range(1, 8) for j in range(1, 8)
                   if pic.inside(int(x + w * i / 8), int(y + h * j / 8))}
        check(len(colours) >= 2, tab.name, f"the picture at ({x:.0f}, {y:.0f}) is drawn as one flat colour")
    log(f"  ok  {tab.name}: {len(pics)} pictures decode and are drawn")


def check_chart_page(tab):
    texts = tab.eval("Array.from(document.querySelectorAll('svg text')).map(t => t.textContent)")
    check(len(texts) >= 3, tab.name, "the chart has no labels")
    _, pic = tab.screenshot(tab.eval(VISIBLE_SVG)[0]["box"])
    check_not_blank(tab, pic)
    log(f"  ok  {tab.name}: drawn with {len(texts)} labels")


# ---------------------------------------------------------------------------------------------
# The pages

def run(cmd, cwd, env):
    log("  $ " + " ".join(cmd))
    p = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    if p.returncode != 0:
        raise CheckFailed(f"{' '.join(cmd)} failed (exit {p.returncode}):\n{p.stdout.decode(errors='replace')}")
    return p.stdout.decode(errors="replace")


def make_pages(attend, work):
    """Trains tiny models and writes one page of each kind; returns {name: (path, kind)}."""
    env = dict(os.environ, ATTEND_NUM_THREADS="1")
    A = attend
    r = random.Random(1)
    # A language model's text.
    words = "the cat sat on a mat and the dog ran to the red ball while birds sang".split()
    with open(os.path.join(work, "lm.txt"), "w") as f:
        f.write("".join(" ".join(r.choice(words) for _ in range(12)) + "\n" for _ in range(300)))
    # Fashion-MNIST-shaped IDX files (gzip, the Debian package's names) with a shape per class.
    os.makedirs(os.path.join(work, "fm"), exist_ok=True)
    for split, n in (("train", 60), ("t10k", 10)):
        imgs = bytearray()
        for i in range(n):
            k = i % 10
            imgs += bytes(200 if (abs(x - 14) < 3 + k and abs(y - 14) < 12 - k) else 10
                          for y in range(28) for x in range(28))
        with gzip.open(os.path.join(work, "fm", f"{split}-images-idx3-ubyte.gz"), "wb") as f:
            f.write(bytes([0, 0, 8, 3]) + struct.pack(">3I", n, 28, 28) + bytes(imgs))
        with gzip.open(os.path.join(work, "fm", f"{split}-labels-idx1-ubyte.gz"), "wb") as f:
            f.write(bytes([0, 0, 8, 1]) + struct.pack(">I", n) + bytes(i % 10 for i in range(n)))
    rows = b"".join(b"\x00" + bytes(200 if abs(x - 14) < 5 and abs(y - 14) < 9 else 10 for x in range(28))
                    for y in range(28))

    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b))

    with open(os.path.join(work, "shirt.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

    steps = [
        [A, "train", "--task", "reverse", "--arch", "transformer", "--d-model", "32", "--heads", "2", "--ffn", "64",
         "--enc-layers", "1", "--dec-layers", "2", "--max-positions", "40", "--train-size", "4000",
         "--valid-size", "20", "--epochs", "6", "--show", "0", "--seed", "1", "-o", "tf.ckpt"],
        [A, "show", "-m", "tf.ckpt", "-s", "4 8 0 6 7 6 2 1", "--attention", "all", "-o", "transformer.html"],
        [A, "train", "--arch", "gpt", "--train-text", "lm.txt", "--text-tokens", "char", "--layers", "2",
         "--heads", "2", "--d-model", "32", "--ffn", "64", "--context", "32", "--epochs", "20", "--lr", "0.003",
         "--dropout", "0", "--show", "0",
         "--seed", "1", "-o", "lm.ckpt"],
        [A, "show", "-m", "lm.ckpt", "--prompt", "the cat sat", "--max-new", "12", "-o", "gpt.html"],
        [A, "train", "--task", "reverse", "--embed", "32", "--hidden", "64", "--attention-dim", "32",
         "--readout", "64", "--train-size", "4000", "--valid-size", "20", "--epochs", "4", "--show", "0",
         "--seed", "1", "-o", "rnn.ckpt"],
        [A, "show", "-m", "rnn.ckpt", "-s", "4 8 0 6 7 6 2 1", "-o", "alignment.html"],
        [A, "eval", "-m", "rnn.ckpt", "--task-test", "200", "--beam", "1", "--json", "rnn.json"],
        [A, "eval", "-m", "tf.ckpt", "--task-test", "200", "--beam", "1", "--json", "tf.json"],
        [A, "plot", "--eval", "rnn.json", "--eval", "tf.json", "--label", "rnnsearch", "--label", "transformer",
         "-o", "plot.html"],
        [A, "gen", "wordnet", "--wordnet-dir", os.path.join(ROOT, "tests", "data", "wordnet"), "-o", "wn",
         "--seed", "2"],
        [A, "train", "--arch", "classifier", "--train-tsv", "wn/train.tsv", "--source-tokens", "word",
         "--lowercase", "--embed", "8", "--hidden", "8", "--hops", "3", "--attention-dim", "4", "--mlp", "8",
         "--epochs", "2", "--batch", "8", "--seed", "1", "-o", "cls.ckpt"],
        [A, "show", "-m", "cls.ckpt", "-s", "a large bird that flies over the sea", "-o", "classifier.html"],
        [A, "train", "--arch", "vit", "--images", "fm", "--valid-images", "10", "--d-model", "8", "--heads", "2",
         "--ffn", "16", "--layers", "1", "--batch", "16", "--epochs", "2", "--seed", "1", "-o", "vit.ckpt"],
        [A, "show", "-m", "vit.ckpt", "--image", "shirt.png", "-o", "vit.html"],
    ]
    os.makedirs(os.path.join(work, "wn"), exist_ok=True)
    for cmd in steps:
        run(cmd, work, env)
    return work


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attend", required=True, help="the attend binary")
    ap.add_argument("--work", help="directory for the models and pages (default: a temporary one)")
    ap.add_argument("--screenshots", default=os.environ.get("ATTEND_BROWSER_DOCS_DIR"),
                    help="also write each page kind's screenshot here (docs/images)")
    ap.add_argument("--timeout", type=float, default=20, help="seconds any one browser step may take")
    args = ap.parse_args()

    chromium = os.environ.get("ATTEND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium or not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        print("SKIPPED: chromium not installed (scripts/deps.sh --also chromium installs it)", flush=True)
        return SKIP
    attend = os.path.abspath(args.attend)
    check(os.access(attend, os.X_OK), "setup", f"{attend} is not an executable")
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="attend-browser-")
    if os.path.isdir(work):
        shutil.rmtree(work)
    os.makedirs(work)
    shots = os.path.join(work, "screenshots")
    os.makedirs(shots)

    t0 = time.monotonic()
    log(f"== pages from {attend} in {work}")
    make_pages(attend, work)
    log(f"   made in {time.monotonic() - t0:.1f} s")
    version = subprocess.run([chromium, "--version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=30).stdout.decode().strip()
    log(f"== {version}: {chromium} --headless=new, DevTools over a pipe")
    browser = Browser(chromium, args.timeout)
    written = []
    try:
        def page(file, name, shot):
            tab = Tab(browser, os.path.join(work, file), name)
            check_errors(tab)
            return tab, shot

        def finish(tab, shot):
            check_errors(tab)
            tab.fit()
            png, pic = tab.screenshot()
            check_not_blank(tab, pic)
            path = os.path.join(shots, shot)
            with open(path, "wb") as f:
                f.write(png)
            written.append(path)
            tab.close()

        # The Transformer's page: kind, layer and head; one encoder layer, so "encoder / layer 2"
        # has no map. ArrowDown on: layer (encoder layer 2: none), kind (decoder layer 2), head
        # (decoder layer 2 head 2), kind (cross layer 2 head 2), layer (stays at 2: last).
        tab, shot = page("transformer.html", "transformer.html (show --attention all)", "show_transformer_html.png")
        cells = check_browser_page(tab, [(1, False), (0, True), (2, True), (0, True)],
                                   ["cross-attention", "layer 2", "mean"])
        top = max(cells, key=lambda c: float(c["d"]["v"]))
        tab.mouse(top["x"], top["y"])
        check_errors(tab)
        finish(tab, shot)

        tab, shot = page("gpt.html", "gpt.html (show on a language model)", "show_gpt_html.png")
        cells = check_browser_page(tab, [(1, True), (2, True), (2, True)], ["decoder self-attention", "layer 2", "head 1"])
        c = sorted(cells, key=lambda c: (int(c["d"]["qi"]), -float(c["d"]["v"])))[len(cells) * 2 // 3]
        tab.mouse(c["x"], c["y"])
        check_errors(tab)
        finish(tab, shot)

        for file, name, shot in (("alignment.html", "alignment.html (show, rnnsearch)", "show_alignment_html.png"),
                                 ("classifier.html", "classifier.html (show, classifier)", "show_classifier_html.png")):
            tab, shot = page(file, name, shot)
            check_heatmap_page(tab)
            cells = tab.eval(VISIBLE_CELLS)
            middle = max(int(c["d"]["qi"]) for c in cells) // 2  # the pointer on the middle row's largest weight
            top = max((c for c in cells if int(c["d"]["qi"]) == middle), key=lambda c: float(c["d"]["v"]))
            tab.mouse(top["x"], top["y"])
            check_errors(tab)
            finish(tab, shot)

        tab, shot = page("vit.html", "vit.html (show --image, vit)", "show_vit_html.png")
        check_picture_page(tab)
        check_errors(tab)
        finish(tab, shot)

        tab, shot = page("plot.html", "plot.html (plot --eval)", "plot_html.png")
        check_chart_page(tab)
        check_errors(tab)
        finish(tab, shot)
    finally:
        browser.close()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
        for p in written:
            shutil.copy(p, args.screenshots)
        log(f"   screenshots copied to {args.screenshots}")
    log(f"== all browser checks passed: {len(written)} pages in {time.monotonic() - t0:.1f} s "
        f"(screenshots: {', '.join(written)})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    except subprocess.TimeoutExpired as e:
        print(f"FAILED: timed out: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
