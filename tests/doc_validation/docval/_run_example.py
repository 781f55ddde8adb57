"""Run one standalone doc example in this (fresh) interpreter: ``python _run_example.py BLOCK.py RESULT.json``.

Records every ``print`` made from the block's own file with the line of the call, and writes the
outcome (prints, exception type chain, message, traceback) to RESULT.json. Exit status 1 when the block raised.
"""

from __future__ import annotations

import builtins
import io
import json
import sys
import traceback
from typing import Any


def main() -> int:
    path, result_path = sys.argv[1], sys.argv[2]
    source = open(path, encoding="utf-8").read()
    prints: list[list[Any]] = []
    real_print = builtins.print

    def recording_print(
        *args: Any, sep: str | None = " ", end: str | None = "\n", file: Any = None, flush: bool = False
    ) -> None:
        if file is None or file is sys.stdout:
            frame = sys._getframe(1)
            while frame is not None and frame.f_code.co_filename != path:
                frame = frame.f_back  # type: ignore[assignment]
            if frame is not None:
                buffer = io.StringIO()
                real_print(*args, sep=sep, end=end, file=buffer)
                prints.append([frame.f_lineno, buffer.getvalue()])
        real_print(*args, sep=sep, end=end, file=file, flush=flush)

    builtins.print = recording_print
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
    outcome: dict[str, Any] = {"prints": prints, "exception": None}
    status = 0
    try:
        exec(compile(source, path, "exec", dont_inherit=True), namespace)
    except BaseException as exc:  # noqa: BLE001 - everything is reported to the harness
        status = 1
        outcome["exception"] = {
            "types": [f"{t.__module__}.{t.__qualname__}" for t in type(exc).__mro__],
            "message": str(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
        traceback.print_exception(exc)
    finally:
        builtins.print = real_print
        sys.stdout.flush()
        with open(result_path, "w", encoding="utf-8") as f:
            json.dump(outcome, f)
    return status


if __name__ == "__main__":
    sys.exit(main())
