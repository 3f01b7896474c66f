/* bpffs.c --- pinning program, link and map fds in bpffs, reading back
   what a pin holds, and releasing a map's kernel object.

   Policies need these to outlive the process that applies them and to
   undo a half-done apply; they work on bare fds, so they are apart from
   the objects and links that hand those fds out.  */
#define _GNU_SOURCE
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "gebpf.h"
#include "map.h"
#include "object.h"

#define SYM(s) scm_from_utf8_symbol (s)

/* ------------------------------------------------------------------ */
/* Pins of programs and links, and releasing a map's kernel object: what
   policies need to outlive the process that applies them, and to undo a
   half-done apply.                                                      */

#define FUNC_NAME s_scm_bpf_fd_pin_x
SCM_DEFINE_STATIC (scm_bpf_fd_pin_x, "%bpf-fd-pin!", 2, 0, 0,
                   (SCM fd, SCM path),
                   "Pin the BPF object (program, link or map) behind the "
                   "file descriptor @var{fd} at @var{path}, a file to be "
                   "created under bpffs, mounting bpffs at /sys/fs/bpf if "
                   "it is missing.  The object then lives until the pin is "
                   "removed (unlinked) and nothing else holds it.  Return "
                   "@var{path}.  Raises @code{ebpf-error} when the kernel "
                   "refuses (the path exists, is not on bpffs, or its "
                   "directory is missing), @code{ebpf-permission-error} "
                   "without privilege.")
{
  if (!scm_is_signed_integer (fd, 0, INT32_MAX))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the fd of a loaded program or a live link",
                 "argument 1 is not a file descriptor (between 0 and "
                 "2^31-1): %s", gebpf_repr (fd));
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the pin's path as a string under /sys/fs/bpf",
                 "bad pin path %s", gebpf_repr (path));
  scm_dynwind_begin (0);
  char *p = scm_to_utf8_string (path);
  scm_dynwind_free (p);
  int r = gebpf_ensure_bpffs ();
  if (r < 0)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, -r,
                         "mounting bpffs at /sys/fs/bpf",
                         "mount it: mount -t bpf bpffs /sys/fs/bpf");
  if (bpf_obj_pin (scm_to_int (fd), p) < 0)
    {
      int err = errno;
      char what[600];
      snprintf (what, sizeof what, "pinning fd %d at %s", scm_to_int (fd), p);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           strncmp (p, "/sys/fs/bpf/", 12) != 0
                           ? "pin under /sys/fs/bpf (a bpffs mount); other "
                           "file systems cannot hold BPF objects"
                           : "choose a path under /sys/fs/bpf that does not "
                           "exist yet, in a directory that does");
    }
  scm_dynwind_end ();
  return path;
}
#undef FUNC_NAME

/* What kind of BPF object FD is, from /proc/self/fdinfo: 'p'rogram,
   'm'ap, 'l'ink, or 0.  */
static char
bpf_fd_kind (int fd)
{
  char file[64], line[256];
  snprintf (file, sizeof file, "/proc/self/fdinfo/%d", fd);
  FILE *f = fopen (file, "re");
  if (!f)
    return 0;
  char kind = 0;
  while (!kind && fgets (line, sizeof line, f))
    if (strncmp (line, "prog_type:", 10) == 0)
      kind = 'p';
    else if (strncmp (line, "map_type:", 9) == 0)
      kind = 'm';
    else if (strncmp (line, "link_type:", 10) == 0)
      kind = 'l';
  fclose (f);
  return kind;
}

#define FUNC_NAME s_scm_bpf_pinned_info
SCM_DEFINE_STATIC (scm_bpf_pinned_info, "%bpf-pinned-info", 1, 0, 0,
                   (SCM path),
                   "Return what is pinned at @var{path} as an alist whose "
                   "@code{type} is @code{program}, @code{map} or "
                   "@code{link}: for a program the fields of "
                   "@code{bpf-programs}; for a map @code{id}, @code{name}, "
                   "@code{kind}, @code{key-size}, @code{value-size}, "
                   "@code{max-entries}; for a link @code{id}, "
                   "@code{link-kind} and @code{program-id}.  Return "
                   "@code{#f} when nothing is pinned there.  Raises "
                   "@code{ebpf-error} for a path that exists but holds no "
                   "BPF object, @code{ebpf-permission-error} without "
                   "privilege.")
{
  if (!scm_is_string (path))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the pin's path as a string",
                 "bad path %s", gebpf_repr (path));
  scm_dynwind_begin (0);
  char *p = scm_to_utf8_string (path);
  scm_dynwind_free (p);
  int fd = bpf_obj_get (p);
  if (fd < 0)
    {
      int err = errno;
      if (err == ENOENT)
        {
          scm_dynwind_end ();
          return SCM_BOOL_F;
        }
      char what[600];
      snprintf (what, sizeof what, "opening the pin %s", p);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           scm_gc_strdup (what, "gebpf"),
                           "check the path is a pin under a bpffs mount");
    }
  char kind = bpf_fd_kind (fd);
  SCM out = SCM_BOOL_F;
  int err = 0;
  if (kind == 'p')
    {
      gebpf_enable_stats ();
      struct bpf_prog_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          char buf[64];
          const char *kn = gebpf_kind_name_of_type (info.type, -2, buf, sizeof buf);
          out = scm_cons (scm_cons (SYM ("type"), SYM ("program")),
                          gebpf_prog_info_alist (&info, kn));
        }
    }
  else if (kind == 'm')
    {
      struct bpf_map_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          const char *mk = libbpf_bpf_map_type_str (info.type);
          out = scm_list_n
            (scm_cons (SYM ("type"), SYM ("map")),
             scm_cons (SYM ("id"), scm_from_uint32 (info.id)),
             scm_cons (SYM ("name"), scm_from_utf8_string (info.name)),
             scm_cons (SYM ("kind"), scm_from_utf8_string (mk ? mk : "?")),
             scm_cons (SYM ("key-size"), scm_from_uint32 (info.key_size)),
             scm_cons (SYM ("value-size"), scm_from_uint32 (info.value_size)),
             scm_cons (SYM ("max-entries"),
                       scm_from_uint32 (info.max_entries)),
             SCM_UNDEFINED);
        }
    }
  else if (kind == 'l')
    {
      struct bpf_link_info info;
      __u32 len = sizeof info;
      memset (&info, 0, sizeof info);
      if (bpf_obj_get_info_by_fd (fd, &info, &len) < 0)
        err = errno;
      else
        {
          const char *lk = libbpf_bpf_link_type_str (info.type);
          out = scm_list_4
            (scm_cons (SYM ("type"), SYM ("link")),
             scm_cons (SYM ("id"), scm_from_uint32 (info.id)),
             scm_cons (SYM ("link-kind"),
                       scm_from_utf8_string (lk ? lk : "unknown")),
             scm_cons (SYM ("program-id"), scm_from_uint32 (info.prog_id)));
        }
    }
  close (fd);
  if (err)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                         "reading the pinned object's info",
                         "see the errno above");
  if (!kind)
    gebpf_error (gebpf_k_error, FUNC_NAME, 0,
                 "give the path of a pinned program, map or link",
                 "%s holds no BPF program, map or link", p);
  scm_dynwind_end ();
  return out;
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_map_release_x
SCM_DEFINE_STATIC (scm_bpf_map_release_x, "%bpf-map-release!", 1, 0, 0,
                   (SCM map),
                   "Close this process's fd of the declared @var{map} "
                   "without closing the declaration: the kernel map goes "
                   "when nothing else (program, pin, other fd) holds it, "
                   "and the next use of @var{map} creates a fresh, empty "
                   "one.  This undoes a creation.  Return @code{#t} if an "
                   "fd was closed.  Raises @code{ebpf-map-error} for an "
                   "unknown map name.")
{
  struct gebpf_map *m = gebpf_map_from_scm (map, FUNC_NAME, 1);
  if (m->fd < 0)
    return SCM_BOOL_F;
  close (m->fd);
  m->fd = -1;
  return SCM_BOOL_T;
}
#undef FUNC_NAME


void
gebpf_init_bpffs (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "bpffs.x"
#endif
}
