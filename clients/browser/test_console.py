"""The console in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) loads /console/ from a live rmw that
has data, and what the page shows is asserted — script status, stock
levels, a ledger entry — then a change made meanwhile appears live.

    RMW_ADDR=127.0.0.1:50051 pytest clients/browser

The data is written over the same service's Connect JSON (urllib), with
fresh ids, so the test passes again against the same Redis. A screenshot
of the page is written to $RMW_ARTIFACTS (default target/) as
console.png.
"""

import json
import os
import urllib.request
import uuid

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ADDR = os.environ.get("RMW_ADDR", "127.0.0.1:50051")
BASE = f"http://{ADDR}"


def call(method, body):
    """A Connect unary call: `Service/Method` of rmw.v1 with a JSON body."""
    request = urllib.request.Request(
        f"{BASE}/rmw.v1.{method}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.load(reply)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver_path = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    yield driver
    driver.quit()


def rows(browser, table):
    """The text of every cell of `table`'s body, row by row."""
    return [
        [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    ]


def wait_for(browser, what, timeout=10):
    """Waits until `what()` is truthy; returns it."""
    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda _: what())


def test_console_shows_health_stock_and_ledger_and_follows_changes(browser):
    store, book = f"store-{uuid.uuid4().hex}", f"book-{uuid.uuid4().hex}"
    call("InventoryService/SetStock", {
        "store": store,
        "levels": [{"product": "mug", "quantity": 3}, {"product": "tee", "quantity": 10}],
    })
    call("InventoryService/HoldStock", {
        "store": store, "holdId": "cart-1", "items": [{"product": "tee", "quantity": 4}],
        "ttl": "900s",
    })
    call("LedgerService/Credit", {"book": book, "account": "alice", "amount": "100",
                                  "reference": "opening"})
    call("LedgerService/Transfer", {"book": book, "fromAccount": "alice", "toAccount": "bob",
                                    "amount": "40", "transferId": "tx-1", "reference": "rent"})

    browser.get(f"{BASE}/console/?store={store}&products=mug,tee&book={book}&accounts=alice,bob")

    summary = wait_for(browser, lambda: browser.find_element(By.ID, "health-summary").text
                       if browser.find_element(By.ID, "health-summary").text != "…" else None)
    assert summary == "SERVING"
    components = wait_for(browser, lambda: rows(browser, "components"))
    assert {c[0]: c[1] for c in components} == {"redis": "yes", "scripts": "yes", "draining": "yes"}
    scripts = wait_for(browser, lambda: rows(browser, "scripts"))
    assert len(scripts) >= 10, scripts
    assert all(s[2] == "yes" for s in scripts), scripts
    assert "values_cas" in {s[0] for s in scripts}

    # product, on hand, held, available
    stock = wait_for(browser, lambda: rows(browser, "stock"))
    assert stock == [["mug", "3", "0", "3"], ["tee", "10", "4", "6"]]

    balances = wait_for(browser, lambda: rows(browser, "balances"))
    assert [b[:2] + b[4:] for b in balances] == [["alice", "60", "60"], ["bob", "40", "40"]]
    entries = wait_for(browser, lambda: rows(browser, "entries"))
    assert entries[0][1:6] == ["transfer", "alice", "bob", "40", "rent"], entries

    # Written meanwhile, shown as it happens: the movement, and the level.
    wait_for(browser, lambda: not browser.find_element(By.ID, "live").get_attribute("hidden"))
    call("InventoryService/Deduct", {"store": store, "product": "mug", "quantity": 2,
                                     "orderId": "order-1"})
    wait_for(browser, lambda: rows(browser, "movements")[0][1] == "deduct")
    moved = rows(browser, "movements")[0]
    assert moved[2:6] == ["mug", "-2", "1", "order-1"], moved
    wait_for(browser, lambda: rows(browser, "stock")[0] == ["mug", "1", "0", "1"])

    for error in ("health-error", "stock-error", "ledger-error"):
        assert not browser.find_element(By.ID, error).is_displayed()

    artifacts = os.environ.get("RMW_ARTIFACTS", "target")
    os.makedirs(artifacts, exist_ok=True)
    browser.save_screenshot(os.path.join(artifacts, "console.png"))
