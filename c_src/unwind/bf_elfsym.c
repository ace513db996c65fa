/* bf_elfsym: size-checked ELF symbol lookup with an .eh_frame_hdr fallback. See
 * bf_elfsym.h. Owns the file's bytes, a sorted array of function symbols (names point
 * into the bytes) and the decoded .eh_frame_hdr table (function starts, sorted). Every
 * offset read from the file is bounds-checked against its size: a corrupt or hostile
 * file gives fewer names, never a bad read.
 */
#include "bf_elfsym.h"
#include "bf_demangle.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BF_ELFSYM_MAX_FILE ((size_t)1 << 30) /* refuse files above 1 GiB */
#define BF_DW_EH_PE_DATAREL_SDATA4 0x3b      /* the table encoding GCC and LLVM emit */
#define BF_DW_EH_PE_OMIT 0xff

typedef struct bf_esym {
    uint64_t value, size;
    const char *name;
} bf_esym;

struct bf_elfsym {
    char *data;
    size_t len;
    bf_esym *syms;
    size_t nsyms;
    uint64_t *fde; /* function start addresses, ascending */
    size_t nfde;
    char base[64]; /* the file's basename */
    bf_elfsym *debug; /* a separate debug file whose symbols were added (owned), or NULL */
};

static int bf_in(const bf_elfsym *es, uint64_t off, uint64_t n)
{
    return off <= es->len && n <= es->len - off;
}

static int bf_sym_cmp(const void *a, const void *b)
{
    const bf_esym *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

static int bf_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Function symbols of one symbol table section (and its string table). */
static int bf_load_symtab(bf_elfsym *es, const Elf64_Shdr *sh, const Elf64_Shdr *all,
                          uint16_t nsec)
{
    if (sh->sh_entsize != sizeof(Elf64_Sym) || sh->sh_link >= nsec ||
        !bf_in(es, sh->sh_offset, sh->sh_size))
        return 0;
    const Elf64_Shdr *strs = &all[sh->sh_link];
    if (!bf_in(es, strs->sh_offset, strs->sh_size))
        return 0;
    size_t n = sh->sh_size / sizeof(Elf64_Sym);
    bf_esym *grown = realloc(es->syms, (es->nsyms + n + 1) * sizeof(bf_esym));
    if (!grown)
        return -1;
    es->syms = grown;
    const Elf64_Sym *sym = (const Elf64_Sym *)(es->data + sh->sh_offset);
    for (size_t i = 0; i < n; i++) {
        if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || sym[i].st_size == 0 ||
            sym[i].st_value == 0 || sym[i].st_name >= strs->sh_size)
            continue;
        const char *name = es->data + strs->sh_offset + sym[i].st_name;
        if (!memchr(name, '\0', strs->sh_size - sym[i].st_name))
            continue;
        es->syms[es->nsyms++] = (bf_esym){sym[i].st_value, sym[i].st_size, name};
    }
    return 0;
}

/* .eh_frame_hdr's binary search table, when it uses the usual datarel|sdata4 encoding. */
static int bf_load_eh_frame_hdr(bf_elfsym *es, const Elf64_Shdr *sh)
{
    const unsigned char *p = (const unsigned char *)es->data + sh->sh_offset;
    if (!bf_in(es, sh->sh_offset, sh->sh_size) || sh->sh_size < 12 || p[0] != 1 ||
        p[3] != BF_DW_EH_PE_DATAREL_SDATA4 || p[1] == BF_DW_EH_PE_OMIT || (p[2] & 0x0f) != 0x03)
        return 0; /* version 1, a 4-byte eh_frame pointer, udata4 count, datarel sdata4 */
    uint32_t count;
    memcpy(&count, p + 8, 4);
    if ((uint64_t)count * 8 > sh->sh_size - 12)
        return 0;
    es->fde = malloc((count ? count : 1) * sizeof(uint64_t));
    if (!es->fde)
        return -1;
    for (uint32_t i = 0; i < count; i++) {
        int32_t rel;
        memcpy(&rel, p + 12 + (size_t)i * 8, 4);
        es->fde[i] = sh->sh_addr + (uint64_t)(int64_t)rel;
    }
    es->nfde = count;
    qsort(es->fde, es->nfde, sizeof(uint64_t), bf_u64_cmp);
    return 0;
}

static int bf_elfsym_parse(bf_elfsym *es, const char **err)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)es->data;
    if (es->len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
        eh->e_ident[EI_CLASS] != ELFCLASS64) {
        *err = "not a 64-bit ELF file";
        return -1;
    }
    if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
        !bf_in(es, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) ||
        eh->e_shstrndx >= eh->e_shnum) {
        *err = "no section headers";
        return -1;
    }
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(es->data + eh->e_shoff);
    const Elf64_Shdr *names = &sh[eh->e_shstrndx];
    if (!bf_in(es, names->sh_offset, names->sh_size)) {
        *err = "bad section names";
        return -1;
    }
    for (uint16_t i = 0; i < eh->e_shnum; i++) {
        int rc = 0;
        if (sh[i].sh_type == SHT_SYMTAB || sh[i].sh_type == SHT_DYNSYM)
            rc = bf_load_symtab(es, &sh[i], sh, eh->e_shnum);
        else if (sh[i].sh_name < names->sh_size &&
                 names->sh_size - sh[i].sh_name > sizeof(".eh_frame_hdr") - 1 &&
                 !strcmp(es->data + names->sh_offset + sh[i].sh_name, ".eh_frame_hdr"))
            rc = bf_load_eh_frame_hdr(es, &sh[i]);
        if (rc != 0) {
            *err = "out of memory";
            return -1;
        }
    }
    if (es->nsyms)
        qsort(es->syms, es->nsyms, sizeof(bf_esym), bf_sym_cmp);
    return 0;
}

bf_elfsym *bf_elfsym_open(const char *path, const char **err)
{
    *err = NULL;
    bf_elfsym *es = calloc(1, sizeof(*es));
    FILE *f = es ? fopen(path, "rb") : NULL;
    if (!f) {
        *err = es ? "cannot open the file" : "out of memory";
        free(es);
        return NULL;
    }
    const char *slash = strrchr(path, '/');
    snprintf(es->base, sizeof(es->base), "%s", slash ? slash + 1 : path);
    long size = (fseek(f, 0, SEEK_END) == 0) ? ftell(f) : -1;
    if (size <= 0 || (size_t)size > BF_ELFSYM_MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        *err = "cannot size the file";
        goto fail;
    }
    es->len = (size_t)size;
    es->data = malloc(es->len);
    if (!es->data || fread(es->data, 1, es->len, f) != es->len) {
        *err = es->data ? "cannot read the file" : "out of memory";
        goto fail;
    }
    fclose(f);
    f = NULL;
    if (bf_elfsym_parse(es, err) != 0)
        goto fail;
    return es;
fail:
    if (f)
        fclose(f);
    bf_elfsym_free(es);
    return NULL;
}

void bf_elfsym_free(bf_elfsym *es)
{
    if (!es)
        return;
    bf_elfsym_free(es->debug);
    free(es->data);
    free(es->syms);
    free(es->fde);
    free(es);
}

const char *bf_elfsym_symbol(const bf_elfsym *es, uint64_t addr, uint64_t *start)
{
    size_t lo = 0, hi = es->nsyms;
    while (lo < hi) { /* the first symbol starting above addr */
        size_t mid = lo + (hi - lo) / 2;
        if (es->syms[mid].value <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    /* symbols may nest or repeat (aliases): look back over those starting at or below */
    for (size_t k = lo; k > 0 && lo - k < 8; k--) {
        const bf_esym *s = &es->syms[k - 1];
        if (addr - s->value < s->size) {
            if (start)
                *start = s->value;
            return s->name;
        }
    }
    return NULL;
}

uint64_t bf_elfsym_function_start(const bf_elfsym *es, uint64_t addr)
{
    size_t lo = 0, hi = es->nfde;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (es->fde[mid] <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? es->fde[lo - 1] : 0;
}

void bf_elfsym_name(const bf_elfsym *es, uint64_t addr, char *out, size_t outlen)
{
    const char *s = bf_elfsym_symbol(es, addr, NULL);
    if (s) {
        /* C++ (the JIT's helpers): the readable name, as perf shows it */
        if (bf_demangle(s, out, outlen) != 0)
            snprintf(out, outlen, "%s", s);
        return;
    }
    uint64_t fn = bf_elfsym_function_start(es, addr);
    snprintf(out, outlen, "%s+0x%llx", es->base, (unsigned long long)(fn ? fn : addr));
}

size_t bf_elfsym_count(const bf_elfsym *es)
{
    return es->nsyms;
}

size_t bf_elfsym_fde_count(const bf_elfsym *es)
{
    return es->nfde;
}

int bf_elfsym_object(const bf_elfsym *es, const char *name, uint64_t *value)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)es->data; /* checked by bf_elfsym_parse */
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(es->data + eh->e_shoff);
    for (uint16_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_DYNSYM && sh[i].sh_type != SHT_SYMTAB)
            continue;
        if (sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_link >= eh->e_shnum ||
            !bf_in(es, sh[i].sh_offset, sh[i].sh_size))
            continue;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (!bf_in(es, strs->sh_offset, strs->sh_size))
            continue;
        const Elf64_Sym *sym = (const Elf64_Sym *)(es->data + sh[i].sh_offset);
        size_t n = sh[i].sh_size / sizeof(Elf64_Sym), want = strlen(name) + 1;
        for (size_t k = 0; k < n; k++) {
            if (ELF64_ST_TYPE(sym[k].st_info) != STT_OBJECT || sym[k].st_value == 0 ||
                sym[k].st_name >= strs->sh_size || strs->sh_size - sym[k].st_name < want)
                continue;
            if (!memcmp(es->data + strs->sh_offset + sym[k].st_name, name, want)) {
                *value = sym[k].st_value;
                return 0;
            }
        }
    }
    return -1;
}

#define BF_NT_GNU_BUILD_ID 3 /* <elf.h>'s NT_GNU_BUILD_ID */

/* The GNU build id note's bytes: 0 with *id, *len set, or -1. */
static int bf_build_id_bytes(const bf_elfsym *es, const unsigned char **id, size_t *len)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)es->data; /* checked by bf_elfsym_parse */
    const Elf64_Shdr *sh = (const Elf64_Shdr *)(es->data + eh->e_shoff);
    for (uint16_t i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_NOTE || !bf_in(es, sh[i].sh_offset, sh[i].sh_size))
            continue;
        const unsigned char *p = (const unsigned char *)es->data + sh[i].sh_offset;
        uint64_t off = 0, size = sh[i].sh_size;
        while (size - off >= 12) {
            uint32_t namesz, descsz, type;
            memcpy(&namesz, p + off, 4);
            memcpy(&descsz, p + off + 4, 4);
            memcpy(&type, p + off + 8, 4);
            uint64_t name_at = off + 12, desc_at = name_at + (((uint64_t)namesz + 3) & ~3ull);
            if (desc_at > size || descsz > size - desc_at)
                break;
            if (type == BF_NT_GNU_BUILD_ID && namesz == 4 && !memcmp(p + name_at, "GNU", 4) &&
                descsz > 0) {
                *id = p + desc_at;
                *len = descsz;
                return 0;
            }
            off = desc_at + (((uint64_t)descsz + 3) & ~3ull);
        }
    }
    return -1;
}

int bf_elfsym_build_id(const bf_elfsym *es, char *hex, size_t hexlen)
{
    const unsigned char *id;
    size_t len;
    if (bf_build_id_bytes(es, &id, &len) != 0 || hexlen < 2 * len + 1)
        return -1;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    return 0;
}

int bf_elfsym_debug_path(const bf_elfsym *es, const char *root, char *out, size_t outlen)
{
    char hex[2 * 64 + 1];
    if (bf_elfsym_build_id(es, hex, sizeof(hex)) != 0 || strlen(hex) < 3)
        return -1;
    int n = snprintf(out, outlen, "%s/.build-id/%.2s/%s.debug", root, hex, hex + 2);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}

int bf_elfsym_add_debug_file(bf_elfsym *es, const char *path, const char **err)
{
    char mine[2 * 64 + 1], theirs[2 * 64 + 1];
    if (es->debug) {
        *err = "a debug file was added already";
        return -1;
    }
    if (bf_elfsym_build_id(es, mine, sizeof(mine)) != 0) {
        *err = "the file has no build id";
        return -1;
    }
    bf_elfsym *d = bf_elfsym_open(path, err);
    if (!d)
        return -1;
    if (bf_elfsym_build_id(d, theirs, sizeof(theirs)) != 0 || strcmp(mine, theirs)) {
        *err = "the debug file is for another build (build ids differ)";
        bf_elfsym_free(d);
        return -1;
    }
    bf_esym *grown = realloc(es->syms, (es->nsyms + d->nsyms + 1) * sizeof(bf_esym));
    if (!grown) {
        *err = "out of memory";
        bf_elfsym_free(d);
        return -1;
    }
    es->syms = grown;
    memcpy(es->syms + es->nsyms, d->syms, d->nsyms * sizeof(bf_esym)); /* names live in d */
    es->nsyms += d->nsyms;
    qsort(es->syms, es->nsyms, sizeof(bf_esym), bf_sym_cmp);
    es->debug = d;
    return 0;
}
