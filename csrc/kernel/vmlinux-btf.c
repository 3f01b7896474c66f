/* vmlinux-btf.c --- the kernel model: the running kernel's BTF.

   The one loader of vmlinux BTF.  libbpf parses /sys/kernel/btf/vmlinux
   (or the vmlinux image it finds elsewhere) once per process, on first
   use: the lowering of a body that reads kernel types, the fentry
   feature probe, the list of BTF functions and vmlinux.h generation all
   share that parse, which costs tens of milliseconds.  The answer, BTF
   or none, is kept for the life of the process.  */
#include <config.h>
#include <errno.h>
#include <pthread.h>
#include <bpf/btf.h>
#include "kernel.h"

static struct btf *vmlinux;
static int load_errno;          /* why it is NULL */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
load (void)
{
  vmlinux = btf__load_vmlinux_btf ();
  load_errno = vmlinux ? 0 : (errno ? errno : ENOENT);
}

const struct btf *
gebpf_vmlinux_btf (void)
{
  /* Lowerings may run in several threads.  */
  pthread_once (&once, load);
  if (!vmlinux)
    errno = load_errno;
  return vmlinux;
}
