#!/usr/bin/env python3
"""A man page of the tlsock command line renders cleanly and documents every flag of its --help.

usage: check_page.py TLSOCK PAGE [COMMAND]

Checks, failing with what is wrong:
  - `man -l PAGE` renders it (exit status 0, text out);
  - `groff -ww -z -man PAGE` prints no warning;
  - every flag `TLSOCK [COMMAND] --help` lists (-X and --long) appears in the rendered page.
A flag added to the command without a line in its page (doc/man/*.scd) fails here.
"""
import os
import re
import subprocess
import sys

HYPHENS = str.maketrans({'\u2010': '-', '\u2011': '-', '\u2212': '-'})


def help_flags(tlsock, command):
    args = [tlsock] + ([command] if command else []) + ['--help']
    text = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
    flags = set()
    for line in text.splitlines():
        # CLI11's option lines: "  -X,--long TYPE   description" or "  --long ...".
        m = re.match(r'^  (-[A-Za-z0-9](?:,--[\w-]+)?|--[\w-]+)', line)
        if m:
            flags.update(m.group(1).split(','))
    if not flags:
        sys.exit('no flag found in the output of ' + ' '.join(args) + ':\n' + text)
    return flags


def main():
    tlsock, page = sys.argv[1], sys.argv[2]
    command = sys.argv[3] if len(sys.argv) > 3 else ''
    env = dict(os.environ, MANWIDTH='100', LC_ALL='C.UTF-8', MAN_KEEP_FORMATTING='')
    problems = []
    man = subprocess.run(['man', '-l', page], capture_output=True, text=True, env=env, timeout=60)
    rendered = re.sub(r'.\x08', '', man.stdout).translate(HYPHENS)
    if man.returncode != 0 or not rendered.strip():
        problems.append('man -l failed (status %d): %s' % (man.returncode, man.stderr.strip()))
    groff = subprocess.run(['groff', '-ww', '-z', '-man', page], capture_output=True, text=True, timeout=60)
    if groff.returncode != 0 or groff.stderr.strip():
        problems.append('groff -ww -z warns: ' + groff.stderr.strip())
    for flag in sorted(help_flags(tlsock, command)):
        if not re.search(r'(?<![\w-])' + re.escape(flag) + r'(?![\w-])', rendered):
            problems.append('%s --help lists %s, the page does not' % (('tlsock ' + command).strip(), flag))
    for p in problems:
        print(p)
    if problems:
        sys.exit(1)
    print('%s: renders, no groff warning, every --help flag documented' % os.path.basename(page))


if __name__ == '__main__':
    main()
