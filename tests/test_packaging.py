"""
The classic twistd-plugin regression: the wheel must carry twisted/plugins/
(and no twisted/__init__.py), and twistd in a fresh environment must find it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from hookdaemon.testing import run_twistd, twistd_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# trial -j hands its workers its sys.path as PYTHONPATH, which would put the
# checkout ahead of the venv.
NO_PYTHONPATH = {"PYTHONPATH": None}


def run(*args: str, cwd: str, environ: Mapping[str, str] | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(environ or {})
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise AssertionError(f"{args} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


class WheelTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.directory = os.path.abspath(self.mktemp())
        source = os.path.join(self.directory, "source")
        # Build from a copy so the checkout gets no build/ or *.egg-info.
        shutil.copytree(
            ROOT,
            source,
            ignore=shutil.ignore_patterns(
                ".git",
                "_trial_temp*",
                "var",
                "build",
                "dist",
                "*.egg-info",
                "__pycache__",
                "dropin.cache",
                ".mypy_cache",
                ".ruff_cache",
                ".hypothesis",
            ),
        )
        dist = os.path.join(self.directory, "dist")
        run(
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            dist,
            source,
            cwd=self.directory,
        )
        [wheel] = os.listdir(dist)
        self.wheel = os.path.join(dist, wheel)

    def test_wheelCarriesThePluginAndNoTwistedInit(self) -> None:
        with zipfile.ZipFile(self.wheel) as archive:
            names = set(archive.namelist())
        self.assertIn("twisted/plugins/hookdaemon_plugin.py", names)
        self.assertIn("hookdaemon/tap.py", names)
        self.assertIn("hookdaemon/forges/github.py", names)
        self.assertNotIn("twisted/__init__.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        self.assertFalse([n for n in names if n.startswith("tests/")])

    def test_twistdInAFreshVenvFindsThePlugin(self) -> None:
        venv = os.path.join(self.directory, "venv")
        run(sys.executable, "-m", "venv", venv, cwd=self.directory)
        python = os.path.join(venv, "bin", "python")
        # Twisted and friends come from this interpreter's site-packages, named in
        # a .pth of the venv's: --system-site-packages would give the base Python's
        # instead, which has none of them when this one is itself a venv (the
        # README's setup). The wheel is the only thing installed into the venv.
        # Named this way, those directories' own .pth files (this checkout's
        # editable install among them) are not read.
        venv_site = run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=venv
        ).strip()
        ours = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
        with open(os.path.join(venv_site, "this-pythons-packages.pth"), "w") as f:
            f.write("".join(f"{path}\n" for path in ours))
        run(
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            # The same version may already be installed (editable) in the
            # site-packages this venv sees; without this pip would skip the wheel.
            "--force-reinstall",
            self.wheel,
            cwd=self.directory,
        )
        where = run(
            python,
            "-c",
            "import hookdaemon, os, twisted.plugins as p; "
            "print(os.path.dirname(hookdaemon.__file__)); "
            "print([d for d in p.__path__"
            " if os.path.exists(os.path.join(d, 'hookdaemon_plugin.py'))][0])",
            cwd=self.directory,
        ).split()
        for path in where:
            self.assertTrue(path.startswith(venv), f"{path} is not inside the venv")
        twistd = twistd_command(python)
        listing = run_twistd("--help", cwd=self.directory, environ=NO_PYTHONPATH, twistd=twistd)
        self.assertEqual(listing.returncode, 0, listing.stderr)
        self.assertIn("hookdaemon", listing.stdout)
        usage = run_twistd(
            "hookdaemon", "--help", cwd=self.directory, environ=NO_PYTHONPATH, twistd=twistd
        )
        self.assertEqual(usage.returncode, 0, usage.stderr)
        self.assertIn("--config=", usage.stdout)
        # The wheel's console script, as pipx or a venv install puts it on PATH.
        script = os.path.join(venv, "bin", "hookdaemon")
        self.assertTrue(os.access(script, os.X_OK), f"no {script}")
        shipped = os.path.join(os.path.dirname(os.path.dirname(__file__)), "tap.cfg")
        checked = run(script, "check", "--config", shipped, cwd=os.path.dirname(shipped))
        self.assertIn("tap.cfg: OK", checked)
        self.assertIn("--check", usage.stdout)

    def test_pipxInstallsTheCommand(self) -> None:
        """
        pipx as the README uses it, into a PIPX_HOME and PIPX_BIN_DIR of the
        test's own: it finds the console script (pipx said "No apps associated
        with package hookdaemon" before [project.scripts]), and the command
        runs from its own venv. pipx installs the dependencies from the index,
        as .ci/run's pip install does.
        """
        pipx = shutil.which("pipx")
        if pipx is None:
            raise SkipTest("needs pipx (Debian package pipx)")
        home = os.path.join(self.directory, "pipx")
        bin_dir = os.path.join(self.directory, "bin")
        where = {"PIPX_HOME": home, "PIPX_BIN_DIR": bin_dir}
        installed = run(pipx, "install", self.wheel, cwd=self.directory, environ=where)
        self.assertIn("- hookdaemon", installed)
        command = os.path.join(bin_dir, "hookdaemon")
        self.assertTrue(os.path.realpath(command).startswith(home + os.sep), command)
        python = os.path.join(home, "venvs", "hookdaemon", "bin", "python")
        package = run(
            python, "-c", "import hookdaemon; print(hookdaemon.__file__)", cwd=self.directory
        )
        self.assertTrue(package.startswith(home + os.sep), package)
        shipped = os.path.join(ROOT, "tap.cfg")
        checked = run(command, "check", "--config", shipped, cwd=ROOT)
        self.assertIn("tap.cfg: OK", checked)
