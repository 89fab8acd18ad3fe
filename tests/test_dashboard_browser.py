"""
The dashboard in a real browser: headless Chromium driven by Selenium against
a live twistd. Sign in, see a job appear after a delivery, watch its log lines
arrive while it runs, replay it, cancel a running one, and be refused without
a token; a screenshot of each page is saved in the test's directory.

Skipped without Chromium, its driver (Debian: chromium, chromium-driver) or
selenium; .ci/run installs them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.testing import TwistdDaemon

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - the skip says so
    webdriver = None

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

HOOKS = """\
[hook:site]
forge = generic
allow_from = 127.0.0.1
workdir = .
burst = queue
command = sh -c 'echo first line; until [ -e go$HOOK_JOB ]; do sleep .1; done; echo second line'
"""
DAEMON = (
    "dashboard = yes\nstatus_token = reader-t0ken\noperator_token = operator-t0ken\n"
    "stop_grace = 1\n"  # a job left at its gate ends at the stop at once
)
OPERATOR = {"Authorization": "Bearer operator-t0ken"}
PUSH = b'{"ref": "refs/heads/main", "after": "0123456789abcdef0123456789abcdef01234567"}'
WAIT = 30

CONTRAST = """
const parse = (text) => {
  const m = text.match(/rgba?\\(([^)]+)\\)/);
  if (!m) return null;
  const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
};
const luminance = (c) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
};
const ratio = (a, b) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};
const behind = (element) => {
  for (let e = element; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c.a > 0) return c;
  }
  return {r: 255, g: 255, b: 255, a: 1};
};
const measured = [];
for (const e of document.body.querySelectorAll("*")) {
  const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || !e.getClientRects().length) continue;
  const fg = parse(getComputedStyle(e).color);
  measured.push({text: e.textContent.trim().slice(0, 40), ratio: ratio(fg, behind(e))});
}
return measured;
"""
"""Each visible element with text of its own, and its text's contrast with what is behind it."""


class Browser(SynchronousTestCase):
    def setUp(self) -> None:
        if webdriver is None or CHROMIUM is None or DRIVER is None:
            raise SkipTest("needs chromium, chromium-driver and selenium")
        self.daemon = TwistdDaemon(self.mktemp(), HOOKS, DAEMON)
        self.daemon.start()
        self.addCleanup(self.daemon.stop)
        self.shots = os.path.join(self.daemon.directory, "screenshots")
        os.makedirs(self.shots)

    def browser(self, javascript: bool = True) -> Any:
        options = webdriver.ChromeOptions()
        if not javascript:
            options.add_experimental_option(
                "prefs", {"profile.managed_default_content_settings.javascript": 2}
            )
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
            options.add_argument(argument)
        options.add_argument("--window-size=1200,900")
        driver = webdriver.Chrome(service=Service(DRIVER), options=options)
        self.addCleanup(driver.quit)
        return driver

    def wait(self, driver: Any, holds: Callable[[Any], Any], what: str) -> Any:
        try:
            return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(holds)
        except TimeoutException:
            self.fail(f"{what} within {WAIT} s; the page: {driver.page_source[:2000]}")

    def shot(self, driver: Any, name: str) -> None:
        driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))

    def sign_in(self, driver: Any, token: str) -> None:
        driver.get(self.daemon.url + "/ui/")
        self.wait(driver, lambda d: d.current_url.endswith("/ui/signin"), "the sign-in page")
        self.shot(driver, "signin")
        field = driver.find_element(By.ID, "token")
        self.assertEqual(field.get_attribute("type"), "password")
        field.send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
        self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.hooks"), "the hooks")

    def deliver(self, body: bytes = PUSH) -> int:
        code, answer = self.daemon.post("/hooks/site", body)
        self.assertEqual(code, 202, answer)
        return int(answer["job"])

    def open_gate(self, job: int) -> None:
        with open(os.path.join(self.daemon.directory, f"go{job}"), "w"):
            pass

    def log_text(self, driver: Any) -> str:
        """The log's text; empty while the page reloads (the job's end reloads it)."""
        try:
            return str(driver.find_element(By.ID, "log").text)
        except (StaleElementReferenceException, NoSuchElementException):
            return ""

    def test_signInWatchAJobReplayAndCancel(self) -> None:
        driver = self.browser()
        self.sign_in(driver, "operator-t0ken")
        self.shot(driver, "hooks-empty")
        # The cookie is out of the page's reach.
        self.assertEqual(driver.execute_script("return document.cookie"), "")

        job = self.deliver()
        self.wait(
            driver,
            lambda d: d.find_elements(By.LINK_TEXT, f"job {job}"),
            "the new job on the hooks page, without a reload",
        )
        self.shot(driver, "hooks")

        driver.find_element(By.LINK_TEXT, f"job {job}").click()
        self.wait(driver, lambda d: "stdout first line" in self.log_text(d), "the first line")
        self.assertNotIn("stdout second line", self.log_text(driver))
        self.shot(driver, "job-running")
        self.open_gate(job)
        self.wait(
            driver, lambda d: "stdout second line" in self.log_text(d), "the second line, live"
        )
        self.wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "dd .state-succeeded"),
            "the job shown succeeded once it ended",
        )
        own_lines = driver.find_elements(By.CSS_SELECTOR, "#log .line.hookdaemon")
        self.assertTrue(own_lines, "hookdaemon's own lines are marked")
        self.shot(driver, "job")

        driver.find_element(By.XPATH, "//button[text()='Replay']").click()
        self.wait(
            driver, lambda d: d.current_url.endswith(f"/ui/jobs/{job + 1}"), "the replay's page"
        )
        self.wait(driver, lambda d: "stdout first line" in self.log_text(d), "the replay running")
        driver.find_element(By.XPATH, "//button[text()='Cancel']").click()
        self.wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "dd .state-cancelled"),
            "the replay cancelled",
        )
        self.shot(driver, "job-cancelled")
        code, replay = self.daemon.request("GET", f"/jobs/{job + 1}", headers=OPERATOR)
        self.assertEqual((code, replay["replay_of"], replay["state"]), (200, job, "cancelled"))

        driver.get(f"{self.daemon.url}/ui/hooks/site")
        self.wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "table.jobs"), "the jobs")
        self.shot(driver, "jobs")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.jobs tbody tr")
        self.assertEqual(len(rows), 2)

    def test_thePageReconnectsAfterTheDaemonRestarts(self) -> None:
        driver = self.browser()
        self.sign_in(driver, "operator-t0ken")
        driver.execute_script("window.notReloaded = true")
        self.daemon.stop()
        self.daemon.start()  # the same port and tokens; the cookie still holds
        job = self.deliver()
        self.open_gate(job)
        self.wait(
            driver,
            lambda d: d.find_elements(By.LINK_TEXT, f"job {job}"),
            "the new job shown once the page's stream connected again",
        )
        self.assertTrue(driver.execute_script("return window.notReloaded === true"))

    def test_withJavaScriptOffThePagesAndFormsStillWork(self) -> None:
        driver = self.browser(javascript=False)
        self.sign_in(driver, "operator-t0ken")
        job = self.deliver()
        self.open_gate(job)
        driver.get(f"{self.daemon.url}/ui/jobs/{job}")
        self.wait(
            driver,
            lambda d: "stdout second line" in self.log_text(d) or d.refresh(),
            "the finished job's output, by reloading (no script to follow it)",
        )
        # The times as the server wrote them: no script turned them local.
        self.assertTrue(driver.find_element(By.TAG_NAME, "time").text.endswith(" UTC"))
        self.shot(driver, "job-no-javascript")
        driver.find_element(By.XPATH, "//button[text()='Replay']").click()
        self.wait(
            driver, lambda d: d.current_url.endswith(f"/ui/jobs/{job + 1}"), "the replay's page"
        )
        self.open_gate(job + 1)

    def test_keyboardAloneReachesEveryControlWithAVisibleFocus(self) -> None:
        driver = self.browser()
        self.sign_in(driver, "operator-t0ken")
        job = self.deliver()
        driver.get(f"{self.daemon.url}/ui/jobs/{job}")
        self.wait(driver, lambda d: "stdout first line" in self.log_text(d), "the job running")
        reached: list[str] = []
        driver.execute_script("document.activeElement.blur()")  # from the page's top
        for _ in range(30):  # once round the page, to where focus leaves it
            ActionChains(driver).send_keys(Keys.TAB).perform()
            focused = driver.switch_to.active_element
            if focused.tag_name == "body":
                break
            name = focused.get_attribute("id") or focused.text.strip()[:40] or focused.tag_name
            style, width = driver.execute_script(
                "const s = getComputedStyle(arguments[0]);"
                " return [s.outlineStyle, parseFloat(s.outlineWidth)];",
                focused,
            )
            self.assertNotEqual(style, "none", f"{name} shows no focus")
            self.assertGreaterEqual(width, 2, f"{name}'s focus is too thin to see")
            if name == "Cancel":
                self.shot(driver, "job-keyboard-focus")
            reached.append(name)
        # In the page's order: home, sign out, the actions, then the log (focusable to scroll).
        self.assertEqual(reached[:4], ["hookdaemon", "Sign out", "Replay", "Cancel"], reached)
        self.assertIn("log", reached[4:], reached)
        driver.execute_script("document.activeElement.blur()")
        ActionChains(driver).send_keys(Keys.TAB * 4).perform()
        self.assertEqual(driver.switch_to.active_element.text, "Cancel")
        ActionChains(driver).send_keys(Keys.ENTER).perform()  # by keyboard alone
        self.wait(
            driver,
            lambda d: d.find_elements(By.CSS_SELECTOR, "dd .state-cancelled"),
            "the job cancelled from the keyboard",
        )

    def test_textContrastIsAtLeastFourAndAHalfToOneInLightAndDark(self) -> None:
        driver = self.browser()
        self.sign_in(driver, "operator-t0ken")
        job = self.deliver()
        self.open_gate(job)
        for scheme in ("light", "dark"):
            driver.execute_cdp_cmd(
                "Emulation.setEmulatedMedia",
                {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
            )
            for path in ("/ui/", "/ui/hooks/site", f"/ui/jobs/{job}", "/ui/signin"):
                driver.get(self.daemon.url + path)
                self.wait(driver, lambda d: d.find_elements(By.TAG_NAME, "main"), path)
                dark = driver.execute_script(
                    "return matchMedia('(prefers-color-scheme: dark)').matches"
                )
                self.assertEqual(dark, scheme == "dark")
                measured = driver.execute_script(CONTRAST)
                self.assertTrue(measured, f"no text measured on {path}")
                low = [m for m in measured if m["ratio"] < 4.5]
                self.assertEqual(low, [], f"{scheme} {path}")
            self.shot(driver, f"job-{scheme}")

    def test_onAPhoneNoPageIsWiderThanTheScreen(self) -> None:
        driver = self.browser()
        driver.set_window_size(390, 844)
        self.sign_in(driver, "operator-t0ken")
        long_ref = "refs/heads/feature/" + "a-branch-name-longer-than-a-phone-is-wide" * 2
        job = self.deliver(PUSH.replace(b"refs/heads/main", long_ref.encode()))
        self.open_gate(job)
        for name, path in (
            ("hooks", "/ui/"),
            ("jobs", "/ui/hooks/site"),
            ("job", f"/ui/jobs/{job}"),
            ("signin", "/ui/signin"),
        ):
            driver.get(self.daemon.url + path)
            self.wait(driver, lambda d: d.find_elements(By.TAG_NAME, "main"), path)
            width, overflow = driver.execute_script(
                "return [window.innerWidth, document.documentElement.scrollWidth]"
            )
            self.shot(driver, f"phone-{name}")
            self.assertLessEqual(width, 390)
            self.assertLessEqual(overflow, width, f"{path} scrolls sideways on a phone")

    def test_theConsoleStaysQuiet(self) -> None:
        """No script error, no refused resource (CSP), no missing file on any page."""
        driver = self.browser()
        self.sign_in(driver, "operator-t0ken")
        job = self.deliver()
        self.open_gate(job)
        for path in ("/ui/", "/ui/hooks/site", f"/ui/jobs/{job}"):
            driver.get(self.daemon.url + path)
            self.wait(driver, lambda d: d.find_elements(By.TAG_NAME, "main"), path)
        self.assertEqual(
            [
                entry["message"]
                for entry in driver.get_log("browser")
                if entry["level"] in ("SEVERE", "WARNING")
            ],
            [],
        )

    def test_refusedWithoutATokenAndReadOnlyWithAStatusToken(self) -> None:
        driver = self.browser()
        driver.get(self.daemon.url + "/ui/jobs/1")
        self.wait(driver, lambda d: d.current_url.endswith("/ui/signin"), "sent to sign in")
        driver.find_element(By.ID, "token").send_keys("wrong")
        driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
        self.wait(
            driver,
            lambda d: "not one this daemon takes" in d.page_source,
            "the wrong token refused",
        )
        self.shot(driver, "signin-refused")
        job = self.deliver()
        self.open_gate(job)
        for _ in range(600):
            _, shown = self.daemon.request("GET", f"/jobs/{job}", headers=OPERATOR)
            if shown.get("state") == "succeeded":
                break
            time.sleep(0.05)
        else:
            self.fail(f"job {job} did not succeed: {shown}")
        self.sign_in(driver, "reader-t0ken")
        driver.get(f"{self.daemon.url}/ui/jobs/{job}")
        self.wait(driver, lambda d: "stdout second line" in self.log_text(d), "the job's output")
        self.assertEqual(driver.find_elements(By.XPATH, "//button[text()='Replay']"), [])
        driver.find_element(By.XPATH, "//button[text()='Sign out']").click()
        self.wait(driver, lambda d: d.current_url.endswith("/ui/signin"), "signed out")
        driver.get(f"{self.daemon.url}/ui/jobs/{job}")
        self.wait(driver, lambda d: d.current_url.endswith("/ui/signin"), "refused once out")
