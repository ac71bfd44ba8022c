"""SCons build script of the tinydeploy dev-platform.

Emulated boards: compile C/C++ with arm-none-eabi-gcc (the provisioned toolchain-gccarmnoneeabi package),
link with the board's linker script, print the size; `upload` boots the ELF in qemu-system-arm and shows its
UART.  Native board: the host's gcc builds an executable that `upload` runs.

Everything board-specific comes from the board manifest, which tinydeploy.build.provision generates from
boards/<id>.toml (build.cpu_flags, build.native, upload.qemu_machine, ...).
"""

import glob
import os
import queue
import socket
import subprocess
import sys
import threading
import time

from SCons.Script import AlwaysBuild, Builder, Default, DefaultEnvironment  # pylint: disable=import-error

env = DefaultEnvironment()
board = env.BoardConfig()
native = bool(board.get("build.native", False))

# --------------------------------------------------------------------------------------------- toolchain
if native:
    env.Replace(
        AR="ar", AS="gcc", CC="gcc", CXX="g++", RANLIB="ranlib", SIZETOOL="size", OBJCOPY="objcopy",
        PROGSUFFIX=".elf",
    )
else:
    prefix = "arm-none-eabi-"
    env.Replace(
        AR=prefix + "gcc-ar", AS=prefix + "gcc", CC=prefix + "gcc", CXX=prefix + "g++",
        GDB=prefix + "gdb", OBJCOPY=prefix + "objcopy", RANLIB=prefix + "gcc-ranlib",
        SIZETOOL=prefix + "size", PROGSUFFIX=".elf",
    )

env.Replace(
    ARFLAGS=["rc"],
    PROGNAME="firmware",
    # Sections counted against flash and RAM by PlatformIO's size check (`size -A -d` output).
    SIZEPROGREGEXP=r"^(?:\.isr_vector|\.vectors|\.text|\.rodata|\.data|\.ARM\.exidx|\.ARM\.extab|\.init_array|\.fini_array)\s+(\d+).*",
    SIZEDATAREGEXP=r"^(?:\.data|\.bss|\.noinit|\.stack|\.heap)\s+(\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)


def c_define(name, value):
    """A CPPDEFINES entry; string values keep their double quotes through the shell SCons runs."""
    if value == "":
        return name
    return (name, value.replace('"', '\\"'))


cpu_flags = list(board.get("build.cpu_flags", []))
# Same optimisation and code-generation flags as the direct-compiler path (tinydeploy.flash.firmware).
common = ["-O2", "-g", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections"]
env.Append(
    ASFLAGS=cpu_flags + ["-x", "assembler-with-cpp"],
    CCFLAGS=cpu_flags + common,
    CFLAGS=["-std=gnu99"],
    # Static destructors never run on bare metal; without crtbegin.o (-nostartfiles) there is no
    # __dso_handle for __cxa_atexit either.
    CXXFLAGS=["-fno-rtti", "-fno-exceptions", "-fno-threadsafe-statics"]
    + ([] if native else ["-fno-use-cxa-atexit"]),
    CPPDEFINES=[c_define(name, value) for name, value in sorted(board.get("build.defines", {}).items())],
    LINKFLAGS=cpu_flags
    + ["-Wl,--gc-sections", "-Wl,-Map,%s" % os.path.join("$BUILD_DIR", "firmware.map")]
    + ([] if native else ["-nostartfiles", "--specs=nano.specs", "-Wl,--no-warn-rwx-segments"]),
    LIBS=["m"] if native else ["c", "m", "gcc"],
)


def find_linker_script():
    """board_build.ldscript wins; otherwise the project's own <board>.ld or single *.ld under src/."""
    if env.get("LDSCRIPT_PATH"):
        return env.subst("$LDSCRIPT_PATH")
    src_dir = env.subst("$PROJECT_SRC_DIR")
    scripts = sorted(glob.glob(os.path.join(src_dir, "**", "*.ld"), recursive=True))
    named = [s for s in scripts if os.path.basename(s) == board.get("build.tinydeploy_id", "") + ".ld"]
    if named:
        return named[0]
    return scripts[0] if len(scripts) == 1 else ""


if not native:
    ldscript = find_linker_script()
    if not ldscript:
        sys.stderr.write(
            "Error: no linker script for board %s: set board_build.ldscript or put one .ld file in %s\n"
            % (env.subst("$BOARD"), env.subst("$PROJECT_SRC_DIR"))
        )
        env.Exit(1)
    env.Replace(LDSCRIPT_PATH=os.path.abspath(ldscript))

env.Append(
    BUILDERS=dict(
        ElfToBin=Builder(
            action=env.VerboseAction("$OBJCOPY -O binary $SOURCES $TARGET", "Building $TARGET"),
            suffix=".bin",
        )
    )
)



def add_firmware_platform_sources():
    """custom_firmware_dir = <dir>: also build <dir>/platform/<board's firmware_platform>/ and put
    <dir>/include and that directory on the include path (how the repository's own platformio.ini builds
    firmware/ without naming each board's platform family a second time).  Rendered projects carry their
    platform sources in src/ instead and leave this unset."""
    firmware = env.GetProjectOption("custom_firmware_dir", "")
    family = board.get("build.firmware_platform", "")
    if not firmware or not family:
        return
    firmware = os.path.join(env.subst("$PROJECT_DIR"), firmware)
    platform_src = os.path.join(firmware, "platform", family)
    env.Append(CPPPATH=[os.path.join(firmware, "include"), platform_src])
    env.BuildSources(os.path.join("$BUILD_DIR", "platform"), platform_src)


add_firmware_platform_sources()

# --------------------------------------------------------------------------------------------- targets
target_elf = env.BuildProgram()
target_bin = env.ElfToBin(os.path.join("$BUILD_DIR", "${PROGNAME}"), target_elf)
env.Depends(target_bin, "checkprogsize")

AlwaysBuild(env.Alias("nobuild", target_bin))
target_buildprog = env.Alias("buildprog", target_bin, target_bin)

target_size = env.Alias("size", target_elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE"))
AlwaysBuild(target_size)


def run_command(argv, timeout, feed):
    """Run the firmware with a deadline, showing its output; its exit status becomes the upload's status.

    `feed` (custom_run_input) goes to the firmware's serial input once it has printed something: bytes
    that reach QEMU before the guest has enabled its UART receiver can stay stuck in the chardev.  Without
    a feed a terminal stays connected (QEMU: Ctrl-A x quits) and anything else gets no input.
    """
    print(" ".join(argv))
    sys.stdout.flush()
    if feed is None:
        stdin = None if sys.stdin is not None and sys.stdin.isatty() else subprocess.DEVNULL
        try:
            status = subprocess.run(argv, stdin=stdin, timeout=timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            return report_timeout(timeout)
        except FileNotFoundError as err:
            return report_missing(err)
        return report_status(status)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except FileNotFoundError as err:
        return report_missing(err)
    threading.Thread(target=forward_output, args=(proc, feed), daemon=True).start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return report_timeout(timeout)
    return report_status(status)


def echo(chunk):
    """Show the firmware's bytes as they come (binary-safe where stdout has a buffer)."""
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:
        out.write(chunk)
        out.flush()
    else:
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()


def forward_output(proc, feed):
    fed = False
    while True:
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        echo(chunk)
        if not fed:
            fed = True
            try:
                proc.stdin.write(feed)
                proc.stdin.close()
            except OSError:
                pass


def run_native(elf_path, timeout, feed):
    """Run the native firmware: it announces "td-native listening=socket://127.0.0.1:<port>" on stderr and
    waits for the host to connect there (its serial link); show what it sends, send it `feed`."""
    print(elf_path)
    sys.stdout.flush()
    deadline = time.monotonic() + timeout
    try:
        proc = subprocess.Popen([elf_path], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as err:
        return report_missing(err)
    endpoints = queue.Queue()
    threading.Thread(target=watch_stderr, args=(proc, endpoints), daemon=True).start()
    link = None
    try:
        try:
            host, port = endpoints.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            return report_timeout(timeout)
        if host is None:  # stderr closed without an announcement: the program has ended
            return report_status(proc.wait(timeout=max(0.1, deadline - time.monotonic())))
        link = socket.create_connection((host, port), timeout=10)
        link.settimeout(None)
        if feed:
            link.sendall(feed)
        forwarder = threading.Thread(target=forward_socket, args=(link,), daemon=True)
        forwarder.start()
        status = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        forwarder.join(timeout=2)
        return report_status(status)
    except subprocess.TimeoutExpired:
        return report_timeout(timeout)
    except OSError as err:
        sys.stderr.write("Error: cannot talk to the native firmware: %s\n" % err)
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if link is not None:
            link.close()


def watch_stderr(proc, endpoints):
    """Echo the program's stderr; report the first `listening=socket://host:port` it announces."""
    announced = False
    for raw in iter(proc.stderr.readline, b""):
        line = raw.decode("utf-8", "replace")
        sys.stderr.write(line)
        sys.stderr.flush()
        if not announced and "listening=socket://" in line:
            address = line.split("listening=socket://", 1)[1].split()[0]
            host, _, port = address.rpartition(":")
            endpoints.put((host, int(port)))
            announced = True
    if not announced:
        endpoints.put((None, None))


def forward_socket(link):
    while True:
        try:
            chunk = link.recv(4096)
        except OSError:
            break
        if not chunk:
            break
        echo(chunk)


def report_timeout(timeout):
    sys.stderr.write("Error: the firmware was still running after %g s (custom_run_timeout)\n" % timeout)
    return 1


def report_missing(err):
    sys.stderr.write("Error: %s not found: run `deploy doctor`\n" % err.filename)
    return 1


def report_status(status):
    if status != 0:
        sys.stderr.write("Error: the firmware exited with status %d\n" % status)
    return status


def qemu_argv(elf_path):
    argv = ["qemu-system-arm", "-M", board.get("upload.qemu_machine")]
    if board.get("upload.qemu_cpu", ""):
        argv += ["-cpu", board.get("upload.qemu_cpu")]
    argv += [
        "-nographic",
        "-icount", "shift=0",
        "-semihosting-config", "enable=on,target=native",
        "-no-reboot",
        "-kernel", elf_path,
    ]
    return argv


def upload(target, source, env):  # pylint: disable=unused-argument,redefined-outer-name
    elf_path = str(source[0])
    timeout = float(env.GetProjectOption("custom_run_timeout", "60"))
    feed = env.GetProjectOption("custom_run_input", "")
    # The option is text with C-style escapes ("\\x04\\x00"): bytes for the firmware's serial input.
    feed = feed.encode("latin-1").decode("unicode_escape").encode("latin-1") if feed else None
    if native:
        return run_native(elf_path, timeout, feed)
    return run_command(qemu_argv(elf_path), timeout, feed)


target_upload = env.Alias("upload", target_elf, env.VerboseAction(upload, "Running $SOURCE"))
AlwaysBuild(target_upload)

Default([target_buildprog, target_size])
