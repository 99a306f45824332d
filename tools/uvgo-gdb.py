# gdb helpers for uvgo's task layer.
#
#   (gdb) source tools/uvgo-gdb.py
#   (gdb) uvgo-bt-fiber &some_task->fiber     # or any uvgo__fiber * / address
#
# A parked fiber has no thread of its own: its callee-saved registers and
# resume address sit on its stack at fiber->sp, in the layout documented in
# src/core/arch/switch.h (keep the two in sync). The command loads that frame into
# the current thread's registers, prints `bt`, and puts the registers back.
# It needs a live process (gdb cannot write registers of a core file).
#
# For the scheduler: `uvgo-tasks` can walk its task list and call
# fiber_backtrace(fiber_address) for each parked task.
import gdb

# Per architecture: (frame size, [(register, offset)], pc offset).
_LAYOUTS = {
    "x86-64": (64,
               [("r15", 8), ("r14", 16), ("r13", 24), ("r12", 32),
                ("rbx", 40), ("rbp", 48)], 56, "rsp", "rip"),
    "aarch64": (176,
                [("x19", 0), ("x20", 8), ("x21", 16), ("x22", 24),
                 ("x23", 32), ("x24", 40), ("x25", 48), ("x26", 56),
                 ("x27", 64), ("x28", 72), ("x29", 80)], 88, "sp", "pc"),
}


def _layout():
    arch = gdb.selected_frame().architecture().name()
    if "x86-64" in arch:
        return _LAYOUTS["x86-64"]
    if "aarch64" in arch:
        return _LAYOUTS["aarch64"]
    raise gdb.GdbError("uvgo: no saved-frame layout for %s" % arch)


def _read_ptr(addr):
    ptr_t = gdb.lookup_type("void").pointer().pointer()
    return int(gdb.Value(addr).cast(ptr_t).dereference())


def fiber_backtrace(fiber_addr, bt_args=""):
    """Print the backtrace of the parked fiber at fiber_addr (an int)."""
    size, regs, pc_off, sp_name, pc_name = _layout()
    # uvgo__fiber.sp is the first field: the saved stack pointer.
    saved = _read_ptr(fiber_addr)
    if saved == 0:
        raise gdb.GdbError("uvgo: fiber at 0x%x has no saved context"
                           % fiber_addr)
    gdb.execute("frame 0", to_string=True)
    names = [r for r, _ in regs] + [sp_name, pc_name]
    old = {r: int(gdb.parse_and_eval("$" + r)) for r in names}
    try:
        for r, off in regs:
            gdb.execute("set $%s = %d" % (r, _read_ptr(saved + off)))
        gdb.execute("set $%s = %d" % (pc_name, _read_ptr(saved + pc_off)))
        gdb.execute("set $%s = %d" % (sp_name, saved + size))
        gdb.execute("bt " + bt_args)
    finally:
        gdb.execute("frame 0", to_string=True)
        for r in names:
            gdb.execute("set $%s = %d" % (r, old[r]))


class UvgoBtFiber(gdb.Command):
    """uvgo-bt-fiber FIBER [bt options]: backtrace of a parked uvgo__fiber.
FIBER is an expression: a uvgo__fiber *, or its address."""

    def __init__(self):
        super().__init__("uvgo-bt-fiber", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        argv = gdb.string_to_argv(arg)
        if not argv:
            raise gdb.GdbError("usage: uvgo-bt-fiber FIBER [bt options]")
        addr = int(gdb.parse_and_eval(argv[0]).cast(
            gdb.lookup_type("unsigned long")))
        fiber_backtrace(addr, " ".join(argv[1:]))


UvgoBtFiber()


# Task states, as in src/core/scheduler.h (uvgo__task_state).
_STATES = ["not started", "runnable", "running", "yielding", "parking",
           "notified", "parked", "done"]


def _str(v):
    try:
        return v.string() if int(v) != 0 else "?"
    except gdb.error:
        return "?"


class UvgoTasks(gdb.Command):
    """uvgo-tasks [bt options]: every started task of every runtime, with
its spawn site, what it is blocked in, and the backtrace of each parked
one. Needs the library's debug information (diag.c's runtime registry)."""

    def __init__(self):
        super().__init__("uvgo-tasks", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        rt = gdb.parse_and_eval("'diag.c'::registry")
        if int(rt) == 0:
            print("uvgo: no runtime")
        while int(rt) != 0:
            nworkers = int(rt["nworkers"])
            print("runtime 0x%x, %d workers" % (int(rt), nworkers))
            for i in range(nworkers):
                t = rt["workers"][i]["all_tasks"]
                while int(t) != 0:
                    state = int(t["state"])
                    name = t["name"].string()
                    where = ""
                    if int(t["block_call"]) != 0 and state == 6:
                        where = " blocked in %s" % _str(t["block_call"])
                        if int(t["block_file"]) != 0:
                            where += " at %s:%d" % (_str(t["block_file"]),
                                                    int(t["block_line"]))
                    print("task 0x%x%s [worker %d, %s]%s; spawned at %s:%d"
                          % (int(t), (' "%s"' % name) if name else "", i,
                             _STATES[state] if state < len(_STATES) else "?",
                             where, _str(t["spawn_file"]),
                             int(t["spawn_line"])))
                    if state == 6:
                        fiber_backtrace(int(t["fiber"].address), arg)
                    t = t["all_next"]
            rt = rt["registry_next"]


UvgoTasks()
