"""The peer for the staging benchmark: what CDK's BucketDeployment does with an asset zip.
Download it with the AWS CLI, unzip it to disk, `aws s3 sync` the files to the destination.

usage: python stage.py s3://SOURCE_BUCKET/KEY.zip s3://DEST_BUCKET/PREFIX/
Prints {"peak_rss_kb": N}: the largest peak resident set (VmHWM) of this process and of each
AWS CLI run, each counted alone (RUSAGE_CHILDREN would also count what the processes inherit
from their parents' memory across fork and exec).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile


peak_kb = 0


def aws(*args):
    """Runs the AWS CLI and notes its peak RSS (wait4 gives that child's own rusage)."""
    global peak_kb
    cli = os.path.join(os.path.dirname(sys.executable), "aws")
    process = subprocess.Popen([cli, *args, "--only-show-errors"])
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    peak_kb = max(peak_kb, usage.ru_maxrss)
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)


def own_peak_kb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main(source, destination):
    work = tempfile.mkdtemp(prefix="bench-peer-")
    try:
        archive = os.path.join(work, "archive.zip")
        aws("s3", "cp", source, archive)
        contents = os.path.join(work, "contents")
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(contents)
        aws("s3", "sync", "--delete", contents, destination)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"peak_rss_kb": max(peak_kb, own_peak_kb())}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
