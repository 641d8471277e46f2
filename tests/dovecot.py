"""A throwaway Dovecot 2.3 IMAP server for tests, on a free loopback port.

Registered in conftest through `pytest_plugins`. Fixtures:

- `dovecot` (session): the running server; `deliver`, `folder_uids` and friends;
- `imap_user` (function): a fresh user with an empty mailbox, so tests never
  see each other's mail; `imap_user.env` points a `Settings` at it.

    async def test_mail_arrives(dovecot, imap_user):
        uid = dovecot.deliver(imap_user.name, raw)
        assert dovecot.folder_uids(imap_user.name, "INBOX") == [uid]

The server follows Dovecot's rootless recipe (docs/mail-notes.md): its own
base_dir, state_dir and log under a temporary folder, passwd-file users,
plaintext login without TLS, imaps off, Maildir. Run as root, Dovecot refuses
to run its login process as root, so then the package's own `dovecot` and
`dovenull` users serve as internal and login users and own the mail. Dovecot
re-reads a changed passwd-file at most once a second, so a pool of users is
written at start and each test takes a fresh one. `maildir_very_dirty_syncs`
tells Dovecot it is the only writer of its maildirs (true here), so reading a
new mail does not rescan a big folder.

Without Dovecot 2.3 and its IMAP server the IMAP tests are skipped with the
reason, except under `CI=true`, where they fail: CI must run them
(scripts/install-test-deps installs them).
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import itertools
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HOST = "127.0.0.1"
PASSWORD = "titok-123"
START_TIMEOUT = 20.0  # seconds; a guard, the server is usually up in well under one
# Dovecot re-reads a changed passwd-file at most once a second, so users are made in
# advance: a test takes the next one instead of waiting for the re-read.
USER_POOL = 500
IMAP_LIBEXEC = ("/usr/lib/dovecot", "/usr/libexec/dovecot", "/usr/local/libexec/dovecot")
_APPENDUID = re.compile(rb"APPENDUID \d+ (\d+)")


class DovecotMissing(Exception):
    """No usable Dovecot 2.3 on this machine."""


def dovecot_binary() -> str:
    """The dovecot executable (also found in /usr/sbin when PATH lacks it)."""
    found = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise DovecotMissing("dovecot is not installed (run scripts/install-test-deps)")
    version = subprocess.run(
        [found, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not version.startswith("2.3"):
        raise DovecotMissing(f"Dovecot 2.3 is needed (its config syntax), found {version!r}")
    if not any(Path(folder, "imap").exists() for folder in IMAP_LIBEXEC):
        raise DovecotMissing("dovecot-imapd is not installed (run scripts/install-test-deps)")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ImapUser:
    """A mailbox on the test server."""

    name: str
    password: str
    host: str
    port: int

    @property
    def env(self) -> dict[str, str]:
        """PETKOMM_IMAP_* variables pointing a `Settings` at this mailbox (no TLS)."""
        return {
            "PETKOMM_IMAP_HOST": self.host,
            "PETKOMM_IMAP_PORT": str(self.port),
            "PETKOMM_IMAP_SECURITY": "none",
            "PETKOMM_IMAP_USER": self.name,
            "PETKOMM_IMAP_PASSWORD": self.password,
        }


class Dovecot:
    """One running Dovecot with passwd-file users under a temporary folder."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.host = HOST
        self.port = 0
        self.conf = root / "dovecot.conf"
        self.passwd = root / "passwd"
        self.mail_root = root / "mail"
        self.log = root / "dovecot.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._pool: list[str] = []
        if os.geteuid() == 0:
            # Dovecot's login process must not run as root: use the package's users.
            internal, login = pwd.getpwnam("dovecot"), pwd.getpwnam("dovenull")
            self.mail_uid, self.mail_gid = internal.pw_uid, internal.pw_gid
            self._internal_user, self._login_user = internal.pw_name, login.pw_name
            self._internal_group = internal.pw_gid
        else:
            me = pwd.getpwuid(os.getuid())
            self.mail_uid, self.mail_gid = me.pw_uid, me.pw_gid
            self._internal_user = self._login_user = me.pw_name
            self._internal_group = me.pw_gid

    # --- life cycle ----------------------------------------------------------------
    def _config(self) -> str:
        group = grp.getgrgid(self._internal_group).gr_name
        return f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.log}
info_log_path = {self.log}
default_internal_user = {self._internal_user}
default_internal_group = {group}
default_login_user = {self._login_user}
first_valid_uid = 1
first_valid_gid = 1
protocols = imap
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{self.mail_root}/%u
mail_fsync = never
maildir_very_dirty_syncs = yes
mail_max_userip_connections = 200
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = {self.passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""

    def start(self) -> None:
        """Start in the foreground (a child we own) and wait until it answers."""
        for directory in (self.root / "run", self.root / "state", self.mail_root):
            directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # the internal and login users must reach their sockets
        os.chown(self.mail_root, self.mail_uid, self.mail_gid)
        self.passwd.touch()
        os.chmod(self.passwd, 0o644)
        self._pool = [self._write_user(f"user{next(self._names)}") for _ in range(USER_POOL)]
        last_error = ""
        for _attempt in range(3):  # the free port may be taken by someone else meanwhile
            self.port = _free_port()
            self.conf.write_text(self._config())
            self._process = subprocess.Popen(
                [self.binary, "-F", "-c", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                self._wait_until_up()
                return
            except RuntimeError as error:
                last_error = str(error)
                self.stop()
        raise RuntimeError(f"dovecot did not start: {last_error}")

    def _wait_until_up(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                stderr = (
                    self._process.stderr.read().decode(errors="replace")
                    if (self._process.stderr)
                    else ""
                )
                raise RuntimeError(f"exited {self._process.returncode}: {stderr}{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as probe:
                    if probe.recv(64).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.02)  # readiness probe interval, not a fixed wait
        raise RuntimeError(f"no greeting within {START_TIMEOUT:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        """The end of Dovecot's log (for failure messages)."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the server (the master ends its children)."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()

    # --- users ------------------------------------------------------------------------
    def _write_user(self, name: str, password: str = PASSWORD) -> str:
        home = self.root / "home" / name
        with self.passwd.open("a") as handle:
            handle.write(f"{name}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::{home}\n")
        return name

    def add_user(self) -> ImapUser:
        """A user nobody has used yet, with an empty mailbox."""
        if self._pool:
            name = self._pool.pop(0)
        else:  # the pool ran out: a new line, and logins retry until Dovecot re-reads the file
            name = self._write_user(f"user{next(self._names)}")
        return ImapUser(name, PASSWORD, self.host, self.port)

    def password_of(self, user: str) -> str:
        for line in self.passwd.read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == user:
                return rest.split(":", 1)[0].removeprefix("{PLAIN}")
        raise KeyError(user)

    @contextlib.contextmanager
    def session(self, user: str) -> Iterator[imaplib.IMAP4]:
        """A logged-in imaplib connection as `user`."""
        client = imaplib.IMAP4(self.host, self.port, timeout=30)
        try:
            self._login(client, user)
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.logout()

    def _login(self, client: imaplib.IMAP4, user: str) -> None:
        deadline = time.monotonic() + 3.0  # a user just added: Dovecot re-reads within 1 s
        while True:
            try:
                client.login(user, self.password_of(user))
                return
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def kick(self, user: str) -> None:
        """Disconnect every IMAP session of `user` from the server side (doveadm kick)."""
        doveadm = shutil.which("doveadm") or shutil.which("doveadm", path="/usr/bin:/usr/sbin")
        assert doveadm, "doveadm comes with dovecot-core"
        done = subprocess.run(
            [doveadm, "-c", str(self.conf), "kick", user], capture_output=True, check=False
        )
        if done.returncode not in (0, 68):  # 68: the user had no session to kick
            raise RuntimeError(f"doveadm kick failed: {done.stderr.decode(errors='replace')}")

    # --- mail -------------------------------------------------------------------------
    def deliver(
        self, user: str, raw: bytes, folder: str = "INBOX", arrived: float | None = None
    ) -> int:
        """APPEND one mail (created folder if needed); returns its UID.

        `arrived` (unix seconds) sets the server's arrival time (INTERNALDATE).
        """
        return self.deliver_many(user, [raw], folder, arrived)[0]

    def deliver_many(
        self,
        user: str,
        raws: Iterable[bytes],
        folder: str = "INBOX",
        arrived: float | None = None,
    ) -> list[int]:
        """APPEND mails in order over one connection; returns their UIDs."""
        uids: list[int] = []
        with self.session(user) as client:
            if folder.upper() != "INBOX":
                client.create(_quote(folder))  # fails harmlessly when it exists
            for raw in raws:
                typ, data = client.append(_quote(folder), None, arrived, raw)
                if typ != "OK":
                    raise RuntimeError(f"APPEND failed: {data!r}")
                match = _APPENDUID.search(data[-1] or b"")
                uids.append(int(match[1]) if match else -1)
        return uids

    def folder_uids(self, user: str, folder: str = "INBOX") -> list[int]:
        """The UIDs in a folder ([] when it does not exist)."""
        with self.session(user) as client:
            typ, _ = client.select(_quote(folder), readonly=True)
            if typ != "OK":
                return []
            typ, data = client.uid("SEARCH", "ALL")
            return [int(uid) for uid in (data[0] or b"").split()]

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """The folder's current UIDVALIDITY."""
        with self.session(user) as client:
            typ, data = client.status(_quote(folder), "(UIDVALIDITY)")
            match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            assert typ == "OK" and match, data
            return int(match[1])

    def create_folder(self, user: str, folder: str) -> None:
        with self.session(user) as client:
            typ, data = client.create(_quote(folder))
            if typ != "OK":
                raise RuntimeError(f"CREATE {folder} failed: {data!r}")

    def delete_folder(self, user: str, folder: str) -> None:
        with self.session(user) as client:
            typ, data = client.delete(_quote(folder))
            if typ != "OK":
                raise RuntimeError(f"DELETE {folder} failed: {data!r}")

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir++ folder on disk (INBOX is the user's root)."""
        base = self.mail_root / user
        return base if folder.upper() == "INBOX" else base / f".{folder}"

    def fill_maildir(self, user: str, raws: Iterable[bytes], folder: str = "INBOX") -> int:
        """Write mails straight into the maildir (fast, for benchmarks); returns how many.

        Dovecot gives them UIDs when the folder is next opened; `folder_uids`
        (or any SELECT) does that before anything is timed.
        """
        base = self.maildir(user, folder)
        for sub in ("cur", "new", "tmp"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        if folder.upper() != "INBOX":
            (base / "maildirfolder").touch()
        stamp = int(time.time())
        count = 0
        for count, raw in enumerate(raws, start=1):
            # new/, not cur/: with maildir_very_dirty_syncs Dovecot only looks at new/.
            path = base / "new" / f"{stamp}.M{count}P{os.getpid()}.bench,S={len(raw)}"
            path.write_bytes(raw)
        for path in [self.mail_root / user, *self.mail_root.joinpath(user).rglob("*")]:
            os.chown(path, self.mail_uid, self.mail_gid)
        return count


def _quote(folder: str) -> str:
    return folder if folder.isalnum() else '"' + folder.replace('"', '\\"') + '"'


def start_dovecot() -> Dovecot:
    """Start a server under a new temporary folder (raises DovecotMissing without one)."""
    binary = dovecot_binary()
    # Not pytest's tmp_path: that is private to us, and Dovecot's own users must reach it.
    root = Path(tempfile.mkdtemp(prefix="petkomm-dovecot-"))
    server = Dovecot(binary, root)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def stop_dovecot(server: Dovecot) -> None:
    """Stop the server and remove its folder."""
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A running Dovecot for the whole session; skipped without one (failed under CI=true)."""
    try:
        server = start_dovecot()
    except DovecotMissing as missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{missing}; CI=true requires the IMAP tests to run", pytrace=False)
        pytest.skip(str(missing))
    try:
        yield server
    finally:
        stop_dovecot(server)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """A fresh user with an empty mailbox, for this test alone."""
    return dovecot.add_user()
