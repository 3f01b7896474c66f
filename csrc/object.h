/* object.h --- private declarations shared by the files around a loaded
   program: <bpf-object> (program.c), its kernel info and statistics
   (object-info.c), the verifier log (verifier-log.c), links and attach
   functions (link.c, attach.c), test runs (test-run.c) and pins
   (bpffs.c).  The library exports none of these (-fvisibility=hidden).  */
#ifndef GEBPF_OBJECT_H
#define GEBPF_OBJECT_H

#include <stdint.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "kernel.h"

/* --- program.c ---------------------------------------------------------- */

/* One program of a BPF object, loaded: the data of a <bpf-object>.  */
struct gebpf_object
{
  struct bpf_object *obj;       /* NULL once closed */
  struct bpf_program *prog;
  int prog_fd;                  /* -1 once closed */
  uint32_t id;
  enum bpf_prog_type type;
  int attach_type;
  const struct gebpf_kind *kind; /* NULL for kinds guile-ebpf has no name for */
  char *kind_name;
  char *name;                   /* the program's C name */
  char *path, *section;
  char *target;                 /* BTF target fixed at load, or NULL */
  char *log;                    /* verifier log kept at load, or NULL */
  char digest[65];
};

/* The kind of a program as libbpf typed it from SEC(), or NULL.  */
const struct gebpf_kind *gebpf_kind_of_program (const struct bpf_program *prog);
/* The short name of an attach type, for printing; NULL if none.  */
const char *gebpf_attach_type_name (int at);
/* Enough privilege to load tracing programs.  */
bool gebpf_tracing_privileged (void);
/* The capabilities KIND needs, for messages.  */
const char *gebpf_cap_names (const struct gebpf_kind *kind);
/* The <bpf-object> OBJ (argument POS of SUBR), loaded or closed; raises
   ebpf-validation-error if it is not one.  */
struct gebpf_object *gebpf_object_any (SCM obj, const char *subr, int pos);
/* The same, and its program still loaded (raises ebpf-error if closed).  */
struct gebpf_object *gebpf_object_live (SCM obj, const char *subr, int pos);

/* --- object-info.c ------------------------------------------------------ */

/* Turn the kernel's run-time statistics on for the rest of the process
   (once; a failure leaves them off).  */
void gebpf_enable_stats (void);
/* The kind name of programs of type T and attach type AT (-2: any): the
   kernel model's, else libbpf's type name with dashes, written in BUF.  */
const char *gebpf_kind_name_of_type (enum bpf_prog_type t, int at,
                                     char *buf, size_t n);
/* The kernel's view of a loaded program, as an alist.  */
SCM gebpf_prog_info_alist (const struct bpf_prog_info *info,
                           const char *kind);

#endif
