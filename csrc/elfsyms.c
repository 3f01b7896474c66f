/* elfsyms.c --- the function symbols of an ELF file, walked once.

   uprobe.c looks symbols up by name and version and lists them by glob;
   symbols.c names user addresses of stacks.  All three read the same
   symbols through gebpf_elf_functions: .symtab and .dynsym, each
   .dynsym entry with its GNU version, and one test of what counts as a
   function the file defines.  */
#include <config.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "elfsyms.h"

int
gebpf_elf_open (const char *path, Elf **elf, int *fd)
{
  *fd = open (path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0)
    return -errno;
  elf_version (EV_CURRENT);
  *elf = elf_begin (*fd, ELF_C_READ_MMAP, NULL);
  if (!*elf || elf_kind (*elf) != ELF_K_ELF)
    {
      if (*elf)
        elf_end (*elf);
      close (*fd);
      *elf = NULL;
      *fd = -1;
      return -ENOEXEC;
    }
  return 0;
}

void
gebpf_elf_close (Elf *elf, int fd)
{
  elf_end (elf);
  close (fd);
}

/* Version index -> name, from .gnu.version_d.  */
static const char *
verdef_name (Elf *elf, Elf_Scn *vd_scn, unsigned ndx)
{
  if (!vd_scn)
    return NULL;
  GElf_Shdr sh;
  Elf_Data *d = elf_getdata (vd_scn, NULL);
  if (!d || !gelf_getshdr (vd_scn, &sh))
    return NULL;
  size_t off = 0;
  for (unsigned i = 0; i < sh.sh_info && off < d->d_size; i++)
    {
      GElf_Verdef vd;
      GElf_Verdaux va;
      if (!gelf_getverdef (d, (int) off, &vd))
        return NULL;
      if (vd.vd_ndx == ndx
          && gelf_getverdaux (d, (int) (off + vd.vd_aux), &va))
        return elf_strptr (elf, sh.sh_link, va.vda_name);
      if (!vd.vd_next)
        break;
      off += vd.vd_next;
    }
  return NULL;
}

/* Whether S is a function this file defines (what a uprobe can hit).  */
static bool
defined_function (const GElf_Sym *s)
{
  int type = GELF_ST_TYPE (s->st_info);
  return (type == STT_FUNC || type == STT_GNU_IFUNC)
    && s->st_shndx != SHN_UNDEF && s->st_value != 0;
}

/* Walk one symbol table section; false when FN asked to stop.  */
static bool
walk_table (Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, unsigned table,
            Elf_Scn *versym, Elf_Scn *verdef,
            bool (*fn) (const struct gebpf_elf_sym *, void *), void *ctx)
{
  Elf_Data *data = elf_getdata (scn, NULL);
  Elf_Data *vdata = versym ? elf_getdata (versym, NULL) : NULL;
  if (!data || !sh->sh_entsize)
    return true;
  size_t n = sh->sh_size / sh->sh_entsize;
  for (size_t i = 0; i < n; i++)
    {
      GElf_Sym s;
      if (!gelf_getsym (data, (int) i, &s) || !defined_function (&s))
        continue;
      const char *name = elf_strptr (elf, sh->sh_link, s.st_name);
      if (!name || !*name)
        continue;
      struct gebpf_elf_sym e = {
        .name = name, .value = s.st_value, .size = s.st_size,
        .table = table, .local = GELF_ST_BIND (s.st_info) == STB_LOCAL,
        .version = NULL, .is_default = true
      };
      GElf_Versym v;
      if (vdata && gelf_getversym (vdata, (int) i, &v))
        {
          /* Bit 15 hides a version (SYM@V); indexes 0 and 1 are the
             local and global "no version".  */
          e.is_default = !(v & 0x8000);
          if ((v & 0x7fff) > 1)
            e.version = verdef_name (elf, verdef, v & 0x7fff);
        }
      if (!fn (&e, ctx))
        return false;
    }
  return true;
}

void
gebpf_elf_functions (Elf *elf, unsigned tables,
                     bool (*fn) (const struct gebpf_elf_sym *, void *),
                     void *ctx)
{
  Elf_Scn *scn = NULL, *versym = NULL, *verdef = NULL;
  while ((scn = elf_nextscn (elf, scn)))
    {
      GElf_Shdr sh;
      if (!gelf_getshdr (scn, &sh))
        continue;
      if (sh.sh_type == SHT_GNU_versym)
        versym = scn;
      else if (sh.sh_type == SHT_GNU_verdef)
        verdef = scn;
    }
  while ((scn = elf_nextscn (elf, scn)))
    {
      GElf_Shdr sh;
      if (!gelf_getshdr (scn, &sh))
        continue;
      unsigned table = sh.sh_type == SHT_SYMTAB ? GEBPF_ELF_SYMTAB
        : sh.sh_type == SHT_DYNSYM ? GEBPF_ELF_DYNSYM : 0;
      if ((table & tables)
          && !walk_table (elf, scn, &sh, table,
                          table == GEBPF_ELF_DYNSYM ? versym : NULL, verdef,
                          fn, ctx))
        return;
    }
}
