"""Where `make install` puts the Python package, relative to the prefix: the
directory of the prefix that this interpreter already searches (Debian:
/usr/local/lib/python3.X/dist-packages, /usr/lib/python3/dist-packages), else
the standard prefix/lib/python3.X/site-packages (then on PYTHONPATH).
Usage: python3 install_dir.py PREFIX"""
import os
import sys
import sysconfig

prefix = os.path.normpath(sys.argv[1])
v = "%d.%d" % sys.version_info[:2]
for rel in ("lib/python%s/dist-packages" % v, "lib/python3/dist-packages",
            "lib/python%s/site-packages" % v):
    if os.path.join(prefix, rel) in sys.path:
        print(rel)
        break
else:
    path = sysconfig.get_path("platlib", "posix_prefix",
                              vars={"base": prefix, "platbase": prefix})
    print(os.path.relpath(path, prefix))
