"""Running the command line in-process: its exit code, stdout and stderr."""

from generation.__main__ import main


def run_cli(capsys, *argv):
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
