/* elfsyms.h --- the one walk over the function symbols of an ELF file, shared
   by uprobe.c (lookup and listing) and symbols.c (the symbolizer).
   Private.  Not "elf.h": <gelf.h> includes the system's, and csrc/ is on
   the include path.  */
#ifndef GEBPF_ELFSYMS_H
#define GEBPF_ELFSYMS_H

#include <stdbool.h>
#include <stdint.h>
#include <gelf.h>
#include <libelf.h>

/* Open PATH as an ELF file for reading: 0 with *ELF and *FD set, else
   -errno when it cannot be opened, or -ENOEXEC when it is not ELF.  */
int gebpf_elf_open (const char *path, Elf **elf, int *fd);
void gebpf_elf_close (Elf *elf, int fd);

/* The symbol tables a walk reads.  */
#define GEBPF_ELF_SYMTAB 1u     /* .symtab */
#define GEBPF_ELF_DYNSYM 2u     /* .dynsym */

/* One function symbol the file defines: what a uprobe can hit.  */
struct gebpf_elf_sym
{
  const char *name;     /* as spelled: .symtab may write SYM@V or SYM@@V */
  uint64_t value, size;
  unsigned table;       /* GEBPF_ELF_SYMTAB or GEBPF_ELF_DYNSYM */
  bool local;           /* STB_LOCAL: a static function */
  /* .dynsym's GNU version (.gnu.version, .gnu.version_d): its name or
     NULL, and whether it is the default one (SYM@@V, or unversioned);
     NULL and true in .symtab.  */
  const char *version;
  bool is_default;
};

/* Call FN on each function symbol ELF defines (STT_FUNC or
   STT_GNU_IFUNC, in a section, non-zero address, named) in the tables
   TABLES (a mask of GEBPF_ELF_*), in the order of the file's sections;
   stop early when FN returns false.  */
void gebpf_elf_functions (Elf *elf, unsigned tables,
                          bool (*fn) (const struct gebpf_elf_sym *s,
                                      void *ctx),
                          void *ctx);

#endif
