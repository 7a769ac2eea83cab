#!/usr/bin/env python3
"""The shared library exports its public API and nothing else.

Lists the dynamic symbols libtlsock defines (nm -D --defined-only, demangled) and fails,
printing them, when one names something of tlsock's that the public headers do not declare:
an internal namespace (tlsock::engine, tlsock::backend, tlsock::net, tlsock::trust, ...), an
anonymous namespace, tlsock::detail, or a public class's hidden Impl.

Instantiations of the standard library's own templates (std::pair<..., tlsock::engine::X>,
std::__shared_count<tlsock::Certificate::Impl>, ...) are counted apart, not failed: libstdc++
declares namespace std with default visibility, so where the compiler does not inline them
(unoptimized and sanitizer builds) they stay weak and visible whatever -fvisibility says. They
are the standard library's code, not an entry point of tlsock's.

usage: symbols.py LIBRARY PUBLIC_HEADER_DIR
"""
import pathlib
import re
import shutil
import subprocess
import sys


def public_names(header_dir):
    """Every identifier the public headers use outside comments: what tlsock::X may name."""
    names = set()
    for header in sorted(pathlib.Path(header_dir).glob('*.hpp')):
        text = re.sub(r'//[^\n]*|/\*.*?\*/', ' ', header.read_text(), flags=re.S)
        text = re.sub(r'"(\\.|[^"\\])*"', ' ', text)
        names.update(re.findall(r'[A-Za-z_]\w*', text))
    # Named in the public headers, yet the library's alone.
    return names - {'detail', 'Impl'}


OPERATORS = re.compile(r'operator(<=>|<<=|>>=|<<|>>|<=|>=|->\*|->|<|>|\(\)|\[\])')


def entity(symbol):
    """The qualified name a demangled symbol defines, without template arguments, parameters
    or return type: "void std::_Destroy_aux<false>::__destroy<X*>(X*, X*)" -> "std::_Destroy_aux::__destroy"."""
    text = OPERATORS.sub('operator@', symbol)
    depth, top = 0, []
    for c in text:
        if c in '<(':
            depth += 1
        elif c in '>)':
            depth -= 1
        elif depth == 0:
            top.append(c)
    tokens = [t for t in ''.join(top).split() if t not in ('const', 'volatile', '&', '&&', '*')]
    return tokens[-1] if tokens else ''


def is_standard_library(symbol):
    return entity(symbol).startswith(('std::', '__gnu_cxx::'))


def offenders(symbols, names):
    bad = []
    for symbol in symbols:
        if 'tlsock::' not in symbol or is_standard_library(symbol):
            continue
        parts = re.findall(r'tlsock::((?:[A-Za-z_]\w*|\(anonymous namespace\))(?:::[A-Za-z_]\w*)*)', symbol)
        for path in parts:
            components = path.split('::')
            if components[0] not in names or 'Impl' in components:
                bad.append(symbol)
                break
    return bad


def main():
    library, header_dir = sys.argv[1], sys.argv[2]
    if shutil.which('nm') is None:
        print('nm not found: skipped')
        return 77
    out = subprocess.run(['nm', '-D', '--defined-only', '--demangle', library], check=True,
                         capture_output=True, text=True).stdout
    symbols = [line.split(' ', 2)[2] for line in out.splitlines() if line.count(' ') >= 2]
    names = public_names(header_dir)
    bad = offenders(symbols, names)
    standard = sum(1 for symbol in symbols if 'tlsock::' in symbol and is_standard_library(symbol))
    print(f'{library}: {len(symbols)} exported symbols, {len(bad)} of them internal '
          f'({standard} instantiations of standard library templates over tlsock types not counted)')
    for symbol in bad:
        print('  internal:', symbol)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
