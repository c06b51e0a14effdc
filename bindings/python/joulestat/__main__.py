"""python3 -m joulestat ARGS: the joulestat command, e.g.

    python3 -m joulestat run -- python3 train.py
    python3 -m joulestat list

It runs the joulestat program (CodeCarbon's command-line mode): $JOULESTAT if
set, else `joulestat` on PATH, else the one installed beside this Python. The
program replaces this process, so its exit status and signals are the
command's.
"""
import os
import shutil
import sys


def find_program():
    path = os.environ.get("JOULESTAT")
    if path:
        return path
    found = shutil.which("joulestat")
    if found:
        return found
    for d in (os.path.dirname(sys.executable), os.path.join(sys.prefix, "bin")):
        p = os.path.join(d, "joulestat")
        if os.access(p, os.X_OK):
            return p
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    prog = find_program()
    if prog is None:
        sys.stderr.write("python3 -m joulestat: the joulestat program is not installed "
                         "(make install, or set JOULESTAT to its path)\n")
        return 127
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(prog, [prog] + list(argv))
    except OSError as e:
        sys.stderr.write(f"python3 -m joulestat: cannot run {prog}: {e.strerror}\n")
        return 127


if __name__ == "__main__":
    sys.exit(main())
