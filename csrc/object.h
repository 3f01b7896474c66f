/* object.h --- private declarations shared by the files around a loaded
   program: <bpf-object> (program.c), its kernel info and statistics
   (object-info.c), the verifier log (verifier-log.c), links and attach
   functions (link.c, attach.c) and pins (bpffs.c).  The library exports none of these (-fvisibility=hidden).  */
#ifndef GEBPF_OBJECT_H
#define GEBPF_OBJECT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "kernel/kernel.h"

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

/* --- verifier-log.c ----------------------------------------------------- */

/* Rewrite the verifier's source annotations "; TEXT @ FILE:N" whose N has
   a string in LINE_MAP (a vector indexed by line number) into "; STRING".
   Returns a malloc'ed string.  */
char *gebpf_rewrite_log (const char *log, SCM line_map);
/* Raise ebpf-verifier-error for program NAME with LOG (already rewritten
   through the line map), its message a summary of LOG.  */
SCM_NORETURN void gebpf_verifier_error (const char *subr, const char *name,
                                        const char *kind, const char *path,
                                        const char *log);

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

/* --- link.c ------------------------------------------------------------- */

/* What one kernel attachment of a link is, and how it is undone.  */
enum part_kind
{
  PART_LIBBPF,                  /* a struct bpf_link of libbpf */
  PART_FD,                      /* a bare kernel link fd (XDP with a mode) */
  PART_TC,                      /* a tc filter (netlink, no kernel link) */
  PART_SOCKET,                  /* SO_ATTACH_BPF on a socket */
};

struct part
{
  enum part_kind kind;
  struct bpf_link *link;
  int fd;                       /* PART_FD: the link; PART_SOCKET: socket */
  int ifindex;                  /* PART_TC */
  uint32_t handle, priority;
  int attach_point;
  bool hook_created;            /* PART_TC: we made the clsact qdisc */
  dev_t dev;                    /* PART_SOCKET: which socket the fd was */
  ino_t ino;
};

/* Undo one part (a libbpf link, a link fd, a tc filter, a socket's
   program); a tc qdisc we made is handed to another live link of ours.  */
void gebpf_part_destroy (struct part *p);
/* Make a live <bpf-link> of OBJECT's program (O) owning PARTS
   (malloc'ed, N of them), and enter it in the registry.  */
SCM gebpf_make_link (SCM object, struct gebpf_object *o, const char *kind,
                     const char *target, struct part *parts, size_t n);
/* The same with the one part P.  */
SCM gebpf_make_link1 (SCM object, struct gebpf_object *o, const char *kind,
                      const char *target, struct part p);
/* The same with one libbpf link.  */
SCM gebpf_libbpf_link (SCM object, struct gebpf_object *o, const char *kind,
                       const char *target, struct bpf_link *link);

#endif
