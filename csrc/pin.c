/* pin.c --- removing what a policy left: its pin directory, without
   leaving bpffs, and the tc filters of a process that was killed.

   A policy's pins live in ROOT/NAME.  Removal opens ROOT, then NAME
   relative to it without following a symbolic link, checks that the
   directory it got is on bpffs, and unlinks entries relative to that
   descriptor: no path is re-resolved between the check and the unlink,
   so neither "..", a planted symbolic link nor a manifest can make it
   delete anything outside the pin root, or anything that is not a BPF
   object.  */
#define _GNU_SOURCE
#include <config.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>
#include "gebpf.h"

/* A policy name, as a directory name: [A-Za-z0-9_-], 1 to 64 bytes.  */
static bool
valid_component (const char *s)
{
  size_t n = strlen (s);
  if (n == 0 || n > 64)
    return false;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
          || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
      return false;
  return true;
}

static void
close_fd (void *p)
{
  int fd = *(int *) p;
  if (fd >= 0)
    close (fd);
}

static void
close_dir (void *p)
{
  DIR *d = *(DIR **) p;
  if (d)
    closedir (d);
}

#define FUNC_NAME s_scm_bpf_pin_dir_remove_x
SCM_DEFINE_STATIC (scm_bpf_pin_dir_remove_x, "%bpf-pin-dir-remove!", 2, 0, 0,
                   (SCM root, SCM name),
                   "Unlink every BPF object in the directory @var{name} of "
                   "the pin root @var{root}, then the directory.  "
                   "@var{name} must be an identifier; the directory is "
                   "opened without following a symbolic link and must be "
                   "on bpffs; its subdirectories are left alone.  Return "
                   "the names unlinked, or @code{#f} if there is no such "
                   "directory.  Raises @code{ebpf-validation-error} for a "
                   "bad name, @code{ebpf-error} for a directory that is a "
                   "symbolic link, is not on bpffs or stays not empty.")
{
  if (!scm_is_string (root) || !scm_is_string (name))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "pass the pin root and the policy's name as strings",
                 "bad arguments %s %s", gebpf_repr (root), gebpf_repr (name));
  scm_dynwind_begin (0);
  char *r = scm_to_utf8_string (root);
  scm_dynwind_free (r);
  char *n = scm_to_utf8_string (name);
  scm_dynwind_free (n);
  if (!valid_component (n))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "a policy name has 1 to 64 letters, digits, - and _",
                 "%s is not a policy name", gebpf_repr (name));
  int *rootfd = scm_gc_malloc_pointerless (2 * sizeof (int), "gebpf-fds");
  int *dirfd_ = rootfd + 1;
  *rootfd = *dirfd_ = -1;
  scm_dynwind_unwind_handler (close_fd, rootfd, SCM_F_WIND_EXPLICITLY);
  scm_dynwind_unwind_handler (close_fd, dirfd_, SCM_F_WIND_EXPLICITLY);
  *rootfd = open (r, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*rootfd < 0)
    {
      if (errno == ENOENT)
        {
          scm_dynwind_end ();
          return SCM_BOOL_F;
        }
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, errno,
                           "opening the pin root",
                           "check GUILE_EBPF_PIN_ROOT");
    }
  *dirfd_ = openat (*rootfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                    | O_CLOEXEC);
  if (*dirfd_ < 0)
    {
      int err = errno;
      if (err == ENOENT)
        {
          scm_dynwind_end ();
          return SCM_BOOL_F;
        }
      if (err == ELOOP || err == ENOTDIR)
        gebpf_error (gebpf_k_error, FUNC_NAME, 0,
                     "it was not made by guile-ebpf: look at it and remove "
                     "it by hand if it should go",
                     "%s/%s is not a directory of pins (a symbolic link or "
                     "a file); nothing was removed", r, n);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           "opening the policy's pin directory",
                           "see the errno above");
    }
  struct statfs sf;
  if (fstatfs (*dirfd_, &sf) < 0 || sf.f_type != BPF_FS_MAGIC)
    gebpf_error (gebpf_k_error, FUNC_NAME, 0,
                 "pins live on bpffs only: set GUILE_EBPF_PIN_ROOT to a "
                 "directory under a bpffs mount (/sys/fs/bpf)",
                 "%s/%s is not on bpffs; nothing was removed", r, n);
  int dup_fd = dup (*dirfd_);
  if (dup_fd < 0)
    gebpf_syscall_error (gebpf_k_error, FUNC_NAME, errno,
                         "listing the policy's pin directory",
                         "see the errno above");
  DIR **d = scm_gc_malloc (sizeof (DIR *), "gebpf-dir");
  *d = fdopendir (dup_fd);
  if (!*d)
    {
      int err = errno;
      close (dup_fd);
      gebpf_syscall_error (gebpf_k_error, FUNC_NAME, err,
                           "listing the policy's pin directory",
                           "see the errno above");
    }
  scm_dynwind_unwind_handler (close_dir, d, SCM_F_WIND_EXPLICITLY);
  /* Names first, unlinks after: the listing is not disturbed.  */
  SCM names = SCM_EOL;
  struct dirent *e;
  while ((e = readdir (*d)))
    if (strcmp (e->d_name, ".") && strcmp (e->d_name, ".."))
      names = scm_cons (scm_from_utf8_string (e->d_name), names);
  SCM removed = SCM_EOL;
  for (SCM l = names; scm_is_pair (l); l = SCM_CDR (l))
    {
      char *f = scm_to_utf8_string (SCM_CAR (l));
      struct stat st;
      /* Relative to the checked descriptor: a symbolic link is unlinked
         itself, never followed; a subdirectory is not ours.  */
      bool ok = fstatat (*dirfd_, f, &st, AT_SYMLINK_NOFOLLOW) == 0
        && !S_ISDIR (st.st_mode) && unlinkat (*dirfd_, f, 0) == 0;
      free (f);
      if (ok)
        removed = scm_cons (SCM_CAR (l), removed);
    }
  if (unlinkat (*rootfd, n, AT_REMOVEDIR) < 0 && errno != ENOENT)
    gebpf_error (gebpf_k_error, FUNC_NAME, errno,
                 "look at what is left and remove it by hand",
                 "%s/%s is not empty after its pins were unlinked", r, n);
  scm_dynwind_end ();
  return scm_reverse_x (removed, SCM_EOL);
}
#undef FUNC_NAME

#define FUNC_NAME s_scm_bpf_tc_filter_remove_x
SCM_DEFINE_STATIC (scm_bpf_tc_filter_remove_x, "%bpf-tc-filter-remove!", 5, 1, 0,
                   (SCM ifindex, SCM direction, SCM handle, SCM priority,
                    SCM prog_id, SCM remove),
                   "Remove the tc filter at @var{handle} and @var{priority} "
                   "of interface @var{ifindex} at @var{direction} "
                   "(@code{ingress} or @code{egress}) if it still runs "
                   "program @var{prog-id} (with @var{remove} false, only "
                   "look: @code{present} instead).  Return @code{removed}, "
                   "@code{gone} (no such filter) or @code{other} (the "
                   "filter runs another program now, and is kept).  "
                   "Raises @code{ebpf-validation-error} for a bad "
                   "argument, @code{ebpf-attach-error} when netlink "
                   "refuses.")
{
  SCM egress = scm_from_utf8_symbol ("egress");
  SCM ingress = scm_from_utf8_symbol ("ingress");
  if (!scm_is_eq (direction, egress) && !scm_is_eq (direction, ingress))
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give 'ingress or 'egress",
                 "bad tc direction %s", gebpf_repr (direction));
  int idx = scm_to_int (ifindex);
  uint32_t h = scm_to_uint32 (handle), prio = scm_to_uint32 (priority);
  uint32_t id = scm_to_uint32 (prog_id);
  if (h == 0 || prio == 0)
    gebpf_error (gebpf_k_validation, FUNC_NAME, 0,
                 "give the handle and priority the filter was attached at",
                 "handle and priority must not be 0");
  LIBBPF_OPTS (bpf_tc_hook, hook, .ifindex = idx,
               .attach_point = scm_is_eq (direction, egress)
               ? BPF_TC_EGRESS : BPF_TC_INGRESS);
  LIBBPF_OPTS (bpf_tc_opts, q, .handle = h, .priority = prio);
  int r = bpf_tc_query (&hook, &q);
  /* The interface or its qdisc may be gone with the filter.  */
  if (r == -ENOENT || r == -ENODEV || r == -EINVAL)
    return scm_from_utf8_symbol ("gone");
  if (r < 0)
    gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                         "looking up a tc filter", "see the errno above");
  if (q.prog_id != id)
    return scm_from_utf8_symbol ("other");
  if (!SCM_UNBNDP (remove) && scm_is_false (remove))
    return scm_from_utf8_symbol ("present");
  LIBBPF_OPTS (bpf_tc_opts, d, .handle = h, .priority = prio);
  r = bpf_tc_detach (&hook, &d);
  if (r == -ENOENT)
    return scm_from_utf8_symbol ("gone");
  if (r < 0)
    gebpf_syscall_error (gebpf_k_attach, FUNC_NAME, -r,
                         "removing a tc filter", "see the errno above");
  return scm_from_utf8_symbol ("removed");
}
#undef FUNC_NAME

void
gebpf_init_pin (void)
{
#ifndef SCM_MAGIC_SNARFER
#include "pin.x"
#endif
}
