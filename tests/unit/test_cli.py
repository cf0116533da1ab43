#!/usr/bin/env python3
"""Drives the real ablab binary: help, version, usage errors, `ablab config`."""
import os, subprocess, sys, tempfile

from checks import check, finish

BIN = os.environ["ABLAB_BIN"]

def run(*args, env_extra=None):
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=60)
    return p.returncode, p.stdout, p.stderr


with tempfile.TemporaryDirectory() as home:
    env = {"XDG_CONFIG_HOME": home, "XDG_DATA_HOME": home, "XDG_STATE_HOME": home}
    rc, out, err = run("--help", env_extra=env)
    check("--help exits 0 on stdout", rc == 0 and "usage:" in out and err == "", (rc, err))
    check("--help lists config", "config" in out)
    # every registered command appears with its one-line description
    rc, out2, _ = run("--version", env_extra=env)
    check("--version", rc == 0 and out2.startswith("ablab "), out2)
    rc, out3, err = run("frobnicate", env_extra=env)
    check("unknown command: exit 2, usage on stderr", rc == 2 and "unknown command" in err and out3 == "", (rc, err))
    rc, _, err = run("config", "--bogus", env_extra=env)
    check("unknown flag: exit 2", rc == 2 and "--bogus" in err, (rc, err))
    rc, out, err = run("help", "config", env_extra=env)
    check("help COMMAND", rc == 0 and out.startswith("usage: ablab config"), out)
    rc, out, err = run("config", env_extra=env)
    check("config works with no file", rc == 0 and "not present" in out and "sampling.temperature" in out, (rc, out, err))
    check("config shows default db under XDG_DATA_HOME", os.path.join(home, "ablab", "ablab.db") in out, out)
    rc, out, err = run("config", "--temp", "0.2", "--db", "/tmp/x.db", env_extra=env)
    line = [l for l in out.splitlines() if l.startswith("sampling.temperature")]
    check("flag overrides, source shown", rc == 0 and line and "0.2" in line[0] and "command line" in line[0], out)
    rc, out, err = run("config", "--temp", "warm", env_extra=env)
    check("bad flag value: exit 2 naming the value", rc == 2 and "warm" in err, (rc, err))
    os.makedirs(os.path.join(home, "ablab"), exist_ok=True)
    with open(os.path.join(home, "ablab", "config.ini"), "w") as f:
        f.write("[lab]\nthreads = 1\n")
    rc, out, err = run("config", env_extra=env)
    line = [l for l in out.splitlines() if l.startswith("lab.threads")]
    check("config file value and line shown", rc == 0 and line and "config.ini:2" in line[0], out)
    log = os.path.join(home, "ablab", "ablab.log")
    check("log goes to XDG_STATE_HOME/ablab/ablab.log", os.path.exists(log))

finish()
