"""
contrib/: the systemd unit is one systemd accepts and rates OK, it starts and
reloads through the hookdaemon command, and it agrees with the shipped
tap.cfg.example, the polkit rule and the sudo drop-in.

systemd-analyze needs no running systemd for C{verify} or C{security
--offline=true} (systemd 252 and later), so these run in a container too.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.config import load_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTRIB = os.path.join(ROOT, "contrib")
UNIT = os.path.join(CONTRIB, "hookdaemon.service")
SUDO_DROP_IN = os.path.join(CONTRIB, "sudo.conf")
POLKIT_RULE = os.path.join(CONTRIB, "50-hookdaemon.rules")
TAP_EXAMPLE = os.path.join(CONTRIB, "tap.cfg.example")
INSTALLED = "/opt/hookdaemon/bin/hookdaemon"

# systemd.exec(5), NoNewPrivileges=: each of these makes systemd set no_new_privs
# for a non-root service whatever NoNewPrivileges= says, and sudo then refuses
# to run ("The "no new privileges" flag is set").
SETS_NO_NEW_PRIVILEGES = (
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "PrivateDevices",
    "ProtectClock",
    "ProtectHostname",
    "ProtectKernelLogs",
    "ProtectKernelModules",
    "ProtectKernelTunables",
    "RestrictAddressFamilies",
    "RestrictNamespaces",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "SystemCallLog",
    "DynamicUser",
)
OFF = ("", "no", "false", "0", "off")

EXPOSURE = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?) (\S+)")


def settings(path: str) -> Iterator[tuple[str, str, str]]:
    """(section, key, value) of a unit file or drop-in, in order, repeats kept."""
    section = ""
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            yield section, key.strip(), value.strip()


def service(path: str) -> dict[str, str]:
    """The [Service] settings of C{path}, the last value of a repeated key counting."""
    return {key: value for section, key, value in settings(path) if section == "Service"}


def analyze(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        raise SkipTest("needs systemd-analyze (Debian package systemd)")
    return subprocess.run(
        ["systemd-analyze", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


class UnitFileTests(SynchronousTestCase):
    def test_startsAndReloadsThroughTheHookdaemonCommand(self) -> None:
        unit = service(UNIT)
        start = shlex.split(unit["ExecStart"])
        reload = shlex.split(unit["ExecReload"])
        self.assertEqual(start, [INSTALLED, "run", "--config", "/etc/hookdaemon/tap.cfg"])
        self.assertEqual(
            reload,
            [INSTALLED, "reload", "--config", "/etc/hookdaemon/tap.cfg", "--pid", "$MAINPID"],
        )
        self.assertEqual(unit["Type"], "notify")

    def test_aStopOutlastsTheDaemonsOwnStop(self) -> None:
        """
        systemd TERMs only the daemon (mixed), which gives running jobs
        stop_grace and then kill_grace; TimeoutStopSec must cover both, or
        systemd SIGKILLs the daemon before it has recorded how its jobs ended.
        """
        unit = service(UNIT)
        self.assertEqual(unit["KillMode"], "mixed")
        config = load_config(TAP_EXAMPLE, {"SITE_HOOK_SECRET": "x"})
        needed = config.daemon.stop_grace + max(h.kill_grace for h in config.hooks.values())
        self.assertGreater(float(unit["TimeoutStopSec"]), needed)

    def test_directoriesAreTheOnesTheExampleConfigUses(self) -> None:
        unit = service(UNIT)
        config = load_config(TAP_EXAMPLE, {"SITE_HOOK_SECRET": "x"})
        self.assertEqual(config.daemon.state_dir, "/var/lib/" + unit["StateDirectory"])
        self.assertEqual(config.daemon.log_dir, "/var/log/" + unit["LogsDirectory"])
        for hook in config.hooks.values():
            writable = [p.lstrip("-") for p in unit["ReadWritePaths"].split()]
            self.assertTrue(
                any(hook.workdir.startswith(p + "/") for p in writable),
                f"hook {hook.name}'s workdir {hook.workdir} is not under {writable}",
            )

    def test_theUsersHomeIsTheOneBoundIn(self) -> None:
        """ProtectHome=tmpfs hides every home but the one BindPaths= names: User='s."""
        unit = service(UNIT)
        self.assertEqual(unit["ProtectHome"], "tmpfs")
        self.assertEqual(unit["BindPaths"], f"-/home/{unit['User']}")
        with open(POLKIT_RULE) as f:
            self.assertIn(f'subject.user == "{unit["User"]}"', f.read())

    def test_exampleConfigChecksOut(self) -> None:
        checked = subprocess.run(
            [sys.executable, "-m", "hookdaemon", "check", "--config", TAP_EXAMPLE],
            env={**os.environ, "SITE_HOOK_SECRET": "a-long-random-string"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("tap.cfg.example: OK", checked.stdout)

    def test_sudoDropInTurnsOffEverySettingThatForbidsSudo(self) -> None:
        unit = service(UNIT)
        drop_in = service(SUDO_DROP_IN)
        self.assertIn(drop_in["NoNewPrivileges"], OFF)
        for key in SETS_NO_NEW_PRIVILEGES:
            if unit.get(key, "") not in OFF:
                self.assertIn(key, drop_in, f"{key}={unit[key]} would keep sudo from running")
                self.assertIn(drop_in[key], OFF, f"{key}={drop_in[key]} keeps sudo from running")
        self.assertLessEqual(
            {"CAP_SETUID", "CAP_SETGID"}, set(drop_in["CapabilityBoundingSet"].split())
        )


class AnalyzeTests(SynchronousTestCase):
    """systemd-analyze on the unit, its programs pointed at a file that exists here."""

    def unit(self, *drop_ins: str, program: bool = True) -> str:
        """A copy of the unit, C{drop_ins} appended, whose hookdaemon exists if C{program}."""
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        hookdaemon = os.path.join(directory, "hookdaemon")
        if program:
            with open(hookdaemon, "w") as f:
                f.write("#!/bin/sh\nexit 0\n")
            os.chmod(hookdaemon, 0o755)
        with open(UNIT) as f:
            text = f.read()
        self.assertIn(INSTALLED, text)
        for drop_in in drop_ins:
            # A second [Service] section reads as a drop-in does: later lines win.
            with open(drop_in) as f:
                text += "\n" + f.read()
        path = os.path.join(directory, "hookdaemon.service")
        with open(path, "w") as f:
            f.write(text.replace(INSTALLED, hookdaemon))
        return path

    def exposure(self, path: str) -> tuple[float, str]:
        rated = analyze("security", "--offline=true", path, cwd=os.path.dirname(path))
        self.assertEqual(rated.returncode, 0, rated.stderr)
        found = EXPOSURE.search(rated.stdout)
        assert found is not None, rated.stdout
        return float(found.group(1)), found.group(2)

    def test_verifyFindsNothingToSay(self) -> None:
        path = self.unit()
        verified = analyze("verify", path, cwd=os.path.dirname(path))
        self.assertEqual((verified.returncode, verified.stderr), (0, ""))

    def test_verifyChecksTheProgramsExist(self) -> None:
        """What the rewrite of the programs' path stands in for: /opt/hookdaemon here."""
        path = self.unit(program=False)
        verified = analyze("verify", path, cwd=os.path.dirname(path))
        self.assertNotEqual(verified.returncode, 0)
        self.assertIn("is not executable", verified.stderr)

    def test_sudoDropInVerifies(self) -> None:
        path = self.unit(SUDO_DROP_IN)
        verified = analyze("verify", path, cwd=os.path.dirname(path))
        self.assertEqual((verified.returncode, verified.stderr), (0, ""))

    def test_exposureIsOK(self) -> None:
        level, word = self.exposure(self.unit())
        self.assertLessEqual(level, 4.0, f"systemd-analyze security rates the unit {level} {word}")

    def test_sudoCostsExposure(self) -> None:
        """The README's trade-off: the sudo drop-in rates the unit above OK."""
        hardened, _ = self.exposure(self.unit())
        with_sudo, word = self.exposure(self.unit(SUDO_DROP_IN))
        self.assertGreater(with_sudo, 4.0, word)
        self.assertGreater(with_sudo, hardened)


class PolkitRuleTests(SynchronousTestCase):
    def test_ruleAllowsOnlyRestartsOfNamedUnits(self) -> None:
        """The rule run as polkitd runs it (JavaScript), against a few requests."""
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            raise SkipTest("needs node to run the rule (Debian package nodejs)")
        with open(POLKIT_RULE) as f:
            rule = f.read()
        harness = (
            "var rules = [];\n"
            "var polkit = {Result: {YES: 'yes'}, addRule: function(f) { rules.push(f); }};\n"
            + rule
            + "\nfunction ask(user, unit, verb) {\n"
            "  var action = {id: 'org.freedesktop.systemd1.manage-units',\n"
            "    lookup: function(k) { return {unit: unit, verb: verb}[k]; }};\n"
            "  return rules[0](action, {user: user}) || 'undecided';\n"
            "}\n"
            "console.log([ask('deploy', 'app.service', 'restart'),\n"
            "  ask('deploy', 'app.service', 'stop'), ask('deploy', 'ssh.service', 'restart'),\n"
            "  ask('www-data', 'app.service', 'restart')].join(' '));\n"
        )
        ran = subprocess.run([node, "-e", harness], capture_output=True, text=True, timeout=60)
        self.assertEqual(ran.returncode, 0, ran.stderr)
        self.assertEqual(ran.stdout.split(), ["yes", "undecided", "undecided", "undecided"])
