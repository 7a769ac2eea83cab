#!/usr/bin/env python3
"""Writes the first ```cpp block under a README heading to a header, so a test can compile the
README's own code: README.md HEADING OUTPUT. A #line directive points compiler messages at the
README's lines. Fails (exit 1) when the heading or its block is missing."""

import pathlib
import sys


def main() -> int:
    readme, heading, output = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        at = lines.index(heading)
    except ValueError:
        print(f"{readme}: no line {heading!r}", file=sys.stderr)
        return 1
    for number in range(at + 1, len(lines)):
        if lines[number].startswith("#"):
            break  # the next heading: the section has no C++ block
        if lines[number] == "```cpp":
            try:
                stop = lines.index("```", number + 1)
            except ValueError:
                break
            block = lines[number + 1 : stop]
            text = (f"// Generated from {readme.name} by test/support/readme_block.py: the first C++ block"
                    f" under {heading!r}.\n#pragma once\n#line {number + 2} \"{readme.resolve()}\"\n")
            output.write_text(text + "\n".join(block) + "\n", encoding="utf-8")
            return 0
    print(f"{readme}: no ```cpp block under {heading!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
