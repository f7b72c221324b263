#!/usr/bin/python3
"""flame_page.py SPEC.json — drives pages written by conan flame in a real
headless Chromium (Debian's chromium + chromedriver, through python3-selenium)
and checks what a user would see, against numbers conan top --json computed
independently. SPEC: {"screenshot": PATH, "pages": [PAGE...]}, each PAGE

  {"html": PATH, "top": TOP_JSON, "total_text": "1.86s",
   "widths": [NAME...], "zoom": NAME, "search": [{"query": Q, "cum": N}],
   "filter": {"key": K, "value": V, "total": N},
   "names": [NAME...], "title": T, "file": F, "pruned": N, "hover": NAME,
   "screenshot": true}

(every key but html optional; TOP_JSON is conan top --json's output). Prints
"FAIL: ..." and exits 1 on the first failed check, exits 77 if Chromium cannot
start. Waits are explicit (for the page's state), never sleeps."""
import json
import os
import sys

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:
    print("SKIP: python3-selenium is not installed (scripts/setup.sh installs it): %s" % e)
    sys.exit(77)

WAIT_S = 60  # for the page's state under load; a healthy run takes milliseconds


class Failed(Exception):
    pass


def check(ok, what):
    if not ok:
        raise Failed(what)


def start_browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    for path in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not os.access(path, os.X_OK):
            print("SKIP: %s is missing (scripts/setup.sh installs chromium and chromium-driver)" % path)
            sys.exit(77)
    try:
        return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    except Exception as e:  # any failure to start is "no browser here"
        print("SKIP: headless Chromium does not start: %s" % str(e).splitlines()[0])
        sys.exit(77)


def frames(driver):
    """Every drawn frame: node, name, value, class, and its box."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#graph .f')].map(f => {
            const r = f.getBoundingClientRect();
            return {node: +f.dataset.node, name: f.dataset.name, value: +f.dataset.value,
                    above: f.classList.contains('above'), match: f.classList.contains('match'),
                    x: r.left, w: r.width, y: r.top};
        });""")


def graph_width(driver):
    return driver.execute_script("return document.getElementById('graph').getBoundingClientRect().width")


def outermost(fs):
    """Frames of each name that have no frame of the same name above them
    (pprof's cum counts a sample once however often a function recurs):
    a frame's ancestors are the frames one row up whose span covers it."""
    rows = {}
    for f in fs:
        rows.setdefault(round(f["y"]), []).append(f)
    ys = sorted(rows)
    out = []
    for f in fs:
        level = ys.index(round(f["y"]))
        inside = False
        for up in ys[:level]:
            for a in rows[up]:
                if a["name"] == f["name"] and a["x"] - 0.01 <= f["x"] and f["x"] + f["w"] <= a["x"] + a["w"] + 0.01:
                    inside = True
        if not inside:
            out.append(f)
    return out


def pprof_percent(value, total):
    """report_format_percent without its padding."""
    r = abs(value / total) * 100 if total else 0
    if 99.95 <= r <= 100.05:
        return "100%"
    return ("%.2f%%" if r >= 1 else "%.2g%%") % r


LOGGED = []  # the browser log read so far (reading it empties it)


def console_errors(driver):
    LOGGED.extend(driver.get_log("browser"))
    return [e for e in LOGGED if e["level"] == "SEVERE"]


def requests(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait(driver, condition, what):
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.05).until(lambda d: condition(d))
    except Exception:
        raise Failed("timed out waiting for " + what)


def check_widths(driver, page, top):
    """The widest frame under the root, and each function named, spans its
    cum share of the width (cum from conan top --json) within 1 px."""
    fs = [f for f in frames(driver) if not f["above"]]
    width = graph_width(driver)
    root = [f for f in fs if f["node"] == 0]
    check(len(root) == 1 and abs(root[0]["w"] - width) <= 1, "the root does not span the graph: %s" % root)
    depth1 = [f for f in fs if f["y"] > root[0]["y"] + 1 and abs(f["y"] - root[0]["y"] - 18) < 2]
    check(depth1, "no frame under the root")
    cum = {r["name"]: r["cum"] for r in top["rows"]}
    names = [max(depth1, key=lambda f: f["w"])["name"]] + page.get("widths", [])
    tops = outermost(fs)
    for name in names:
        check(name in cum, "%s is not in conan top --json" % name)
        drawn = sum(f["w"] for f in tops if f["name"] == name)
        want = cum[name] / top["total"] * width
        print("# %s: %.2f px wide, cum %d of %d is %.2f px" % (name, drawn, cum[name], top["total"], want))
        check(abs(drawn - want) <= 1, "%s is %.2f px wide, its cum share is %.2f px" % (name, drawn, want))


def check_zoom(driver, name):
    before = {f["node"]: (f["name"], f["x"], f["w"]) for f in frames(driver)}
    width = graph_width(driver)
    target = max((f for f in frames(driver) if f["name"] == name), key=lambda f: f["w"])
    driver.find_element(By.CSS_SELECTOR, '#graph .f[data-node="%d"]' % target["node"]).click()
    wait(driver, lambda d: d.execute_script("return document.getElementById('graph').dataset.zoom")
         == str(target["node"]), "the zoom on " + name)
    after = {f["node"]: f for f in frames(driver)}
    z = after[target["node"]]
    check(abs(z["w"] - width) <= 1 and abs(z["x"] - after[0]["x"]) <= 1,
          "zoomed %s spans %.2f px from %.2f, not the width %.2f" % (name, z["w"], z["x"], width))
    for f in after.values():
        check(f["w"] <= width + 1, "a frame wider than the graph after the zoom: %s" % f)
    driver.find_element(By.ID, "reset").click()
    wait(driver, lambda d: d.execute_script("return document.getElementById('graph').dataset.zoom") == "0",
         "the reset")
    again = {f["node"]: (f["name"], f["x"], f["w"]) for f in frames(driver)}
    check(again.keys() == before.keys(), "the reset did not bring back the same frames")
    for node, (n, x, w) in before.items():
        check(again[node][0] == n and abs(again[node][1] - x) <= 0.5 and abs(again[node][2] - w) <= 0.5,
              "after the reset %s is at %s, was at %s" % (n, again[node][1:], (x, w)))
    print("# zoom on %s (%.1f px) spanned %.1f px; reset restored %d frames" % (name, target["w"], z["w"], len(before)))


def check_search(driver, query, cum, top):
    box = driver.find_element(By.ID, "search")
    box.clear()
    box.send_keys(query)
    found = driver.find_element(By.ID, "matched")
    wait(driver, lambda d: found.get_attribute("data-query") == query, "the search for %r" % query)
    matched = found.get_attribute("data-value")
    fs = frames(driver)
    lit = sorted(f["node"] for f in fs if f["match"])
    want = sorted(f["node"] for f in fs if f["node"] != 0 and query in f["name"])
    check(lit and lit == want, "search %r lit %s, frames with that name are %s" % (query, lit, want))
    check(float(matched) == cum, "search %r matched %s, its cum is %d" % (query, matched, cum))
    text = driver.find_element(By.ID, "matched").text
    share = pprof_percent(cum, top["total"])
    check("(" + share + " of total)" in text, "search %r shows %r, want a share of %s" % (query, text, share))
    print("# search %r: %d frames lit, %s" % (query, len(lit), text))


def check_filter(driver, spec, total):
    select = Select(driver.find_element(By.CSS_SELECTOR, 'select[data-key="%s"]' % spec["key"]))
    select.select_by_visible_text(spec["value"])
    wait(driver, lambda d: d.find_element(By.ID, "total").get_attribute("data-value") != str(total),
         "the filter to change the total")
    got = float(driver.find_element(By.ID, "total").get_attribute("data-value"))
    check(got == spec["total"], "%s=%s: total %s, conan top --tag says %d" % (spec["key"], spec["value"], got,
                                                                            spec["total"]))
    root = [f for f in frames(driver) if f["node"] == 0]
    check(root and root[0]["value"] == spec["total"], "the root does not hold the filtered total")
    select.select_by_visible_text("all")
    wait(driver, lambda d: d.find_element(By.ID, "total").get_attribute("data-value") == str(total),
         "'all' to bring back the total")
    print("# filter %s=%s: total %d of %d" % (spec["key"], spec["value"], got, total))


def check_page(driver, page):
    url = "file://" + os.path.abspath(page["html"])
    driver.get(url)
    LOGGED.clear()
    wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "1" or console_errors(d),
         "the page to render")
    check(not console_errors(driver), "console errors: %s" % console_errors(driver))
    top = page.get("top")
    if top:
        total = driver.find_element(By.ID, "total")
        check(float(total.get_attribute("data-value")) == top["total"],
              "page total %s, conan top says %d" % (total.get_attribute("data-value"), top["total"]))
    if "total_text" in page:
        check(driver.find_element(By.ID, "total").text == page["total_text"],
              "the page shows the total as %r, conan top as %r" % (driver.find_element(By.ID, "total").text,
                                                                   page["total_text"]))
    if top:
        check_widths(driver, page, top)
    if "zoom" in page:
        check_zoom(driver, page["zoom"])
    for s in page.get("search", []):
        check_search(driver, s["query"], s["cum"], top)
    if "filter" in page:
        check_filter(driver, page["filter"], top["total"])
    if "names" in page:
        state = driver.execute_script("return [window.pwned, document.title, document.scripts.length]")
        check(state[0] is None, "a name ran script: window.pwned = %r" % state[0])
        check(state[1] == page["title"], "the title is %r, not %r" % (state[1], page["title"]))
        check(state[2] == 2, "the page has %d script elements, not 2" % state[2])
        drawn = {f["name"] for f in frames(driver) if f["node"] != 0}
        check(drawn == set(page["names"]), "frames drawn %r, want %r" % (drawn, page["names"]))
        check(driver.find_element(By.ID, "file").text == page["file"], "the file name is shown as %r" %
              driver.find_element(By.ID, "file").text)
        print("# %d hostile names drawn as text, no script ran" % len(page["names"]))
    if "pruned" in page:
        note = driver.find_element(By.ID, "note")
        check(note.get_attribute("data-pruned") == str(page["pruned"]), "the page says %r, want %d frames pruned" %
              (note.text, page["pruned"]))
        print("# note: %s" % note.text)
    if "hover" in page:
        target = max((f for f in frames(driver) if f["name"] == page["hover"]), key=lambda f: f["w"])
        element = driver.find_element(By.CSS_SELECTOR, '#graph .f[data-node="%d"]' % target["node"])
        ActionChains(driver).move_to_element(element).perform()
        tip = wait(driver, lambda d: d.find_element(By.ID, "tip").is_displayed() and d.find_element(By.ID, "tip"),
                   "the tooltip")
        check(tip.text.startswith(page["hover"] + "\n"), "the tooltip says %r" % tip.text)
        print("# tooltip: %r" % tip.text)
    errors = console_errors(driver)
    check(not errors, "console errors: %s" % errors)
    others = [u for u in requests(driver) if u != url]
    check(not others, "the page made requests: %s" % others[:5])
    if page.get("screenshot"):
        driver.save_screenshot(SPEC["screenshot"])


def main():
    driver = start_browser()
    try:
        for page in SPEC["pages"]:
            print("# page %s" % page["html"])
            check_page(driver, page)
    except Failed as e:
        print("FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        driver.quit()
    return 0


with open(sys.argv[1]) as spec_file:
    SPEC = json.load(spec_file)
sys.exit(main())
