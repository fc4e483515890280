"""A throwaway virtual environment for tests that install a plugin: it
shares this environment's packages (its site-packages links to this one's
entries, leaving out any adieu-billing), so a plugin installed into it, with
pip or by hand, never lands in the user's .venv, and tests that run at the
same time (pytest -n) never see it."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugins" / "adieu-billing"


class Throwaway:
    """A virtual environment whose site-packages links to this one's
    entries, leaving out any adieu-billing; the plugin is installed into it
    and removed again by hand (a dist-info and the package)."""

    def __init__(self, where: Path):
        self.dir = where / "venv"
        venv.create(self.dir, with_pip=False, symlinks=True)
        self.python = self.dir / "bin" / "python"
        site = subprocess.run([str(self.python), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        self.site = Path(site)
        here = Path(sysconfig.get_paths()["purelib"])
        for entry in here.iterdir():
            if "adieu_billing" in entry.name.lower().replace("-", "_"):
                continue
            target = self.site / entry.name
            if not target.exists():
                target.symlink_to(entry)
        self.script = self.dir / "bin" / "adieu"
        self.script.write_text(f"#!{self.python}\nimport sys\nfrom adieu.cli import cli\n"
                               "sys.exit(cli())\n", encoding="utf-8")
        self.script.chmod(0o755)

    def install_billing(self, version: str) -> None:
        info = self.site / f"adieu_billing-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: adieu-billing\nVersion: {version}\n",
            encoding="utf-8")
        (info / "entry_points.txt").write_text("[adieu]\nbilling = adieu_billing\n",
                                               encoding="utf-8")
        (self.site / "adieu_billing").symlink_to(EXAMPLE / "adieu_billing")

    def uninstall_billing(self) -> None:
        for info in self.site.glob("adieu_billing-*.dist-info"):
            for f in info.iterdir():
                f.unlink()
            info.rmdir()
        (self.site / "adieu_billing").unlink()

    def adieu(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(self.script), *args], cwd=cwd, env=self.env(),
                              capture_output=True, text=True, timeout=120)

    def pip_install_billing(self) -> None:
        """`pip install -e examples/plugins/adieu-billing` into this
        environment, as a plugin author would, with this environment's pip
        (pip --python)."""
        have_setuptools = subprocess.run(
            [str(self.python), "-c", "import setuptools"], capture_output=True).returncode == 0
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(self.python), "install", "--quiet",
             "--no-deps", *(["--no-build-isolation"] if have_setuptools else []),
             "-e", str(EXAMPLE)],
            check=True, capture_output=True, text=True)

    def env(self) -> dict[str, str]:
        """The environment to run commands in: this venv's bin first on PATH,
        no adieu variables of the caller."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("ADIEU_LOAD_PLUGINS", "ADIEU_DB", "ADIEU_RAISE_ERRORS",
                            "PYTHONPATH")}
        env["PATH"] = f"{self.dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.dir)
        return env
