/* Recording a run in the history runs SQLite's code for the first time in the
 * process and gives it and jansson some 200 KiB of fresh memory: about 80
 * page faults, one per page first touched. Where a page fault is dear, as in
 * a virtual machine (30 to 100 us each on the machine of BENCHMARKS.md,
 * against 2 us a page when the kernel maps a range in one call), those
 * faults were most of what the history added to `joulestat run`. So the
 * pages are asked for in two calls before: SQLite's code and constants
 * (MADV_POPULATE_READ: they are in the page cache, only mapped), and a free
 * stretch at the top of the heap that the record's allocations then take
 * (MADV_POPULATE_WRITE). Either may be refused (a kernel before 5.14): then
 * the pages fault as before, nothing else changes. */
#include "prefault.h"

#include <link.h>
#include <malloc.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* What the record of a run allocates, with room to spare (a run of two
 * packages: SQLite's high-water mark ~120 KiB, the document ~60 KiB). */
enum { HEAP_BYTES = 256 << 10 };

static uintptr_t page_down(uintptr_t a)
{
	return a & ~(uintptr_t)4095;
}

/* The read-only segments of the object that holds sqlite3_open_v2. */
static int populate_code(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size;
	uintptr_t fn = *(const uintptr_t *)ctx;
	int mine = 0;
	for (int i = 0; i < info->dlpi_phnum && !mine; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t a = info->dlpi_addr + p->p_vaddr;
		mine = p->p_type == PT_LOAD && fn >= a && fn < a + p->p_memsz;
	}
	if (!mine)
		return 0;
	/* What the loader made read-only again after relocation (RELRO): the
	 * writable segment's own pages start after it. */
	uintptr_t relro_end = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_GNU_RELRO)
			relro_end = page_down(info->dlpi_addr + p->p_vaddr + p->p_memsz);
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type != PT_LOAD)
			continue;
		uintptr_t a = page_down(info->dlpi_addr + p->p_vaddr);
		uintptr_t end = info->dlpi_addr + p->p_vaddr + p->p_memsz;
		int advice = MADV_POPULATE_READ;
		if (p->p_flags & PF_W) {
			/* Its data and bss, written by SQLite's initialisation: each
			 * page would fault for its private copy. */
			advice = MADV_POPULATE_WRITE;
			if (a < relro_end)
				a = relro_end;
			if (a >= end)
				continue;
		}
		/* The loader gives the segment's place as a number. */
		(void)madvise((void *)a, end - a, // NOLINT(performance-no-int-to-ptr)
		              advice);
	}
	return 1;
}

void jst_prefault_history(void)
{
	uintptr_t fn = (uintptr_t)&sqlite3_open_v2;
	dl_iterate_phdr(populate_code, &fn);
	/* The stretch must come from the heap and stay there once freed: no
	 * mmap for it, no trimming of it. The process ends soon after. */
	mallopt(M_MMAP_THRESHOLD, 2 * HEAP_BYTES);
	mallopt(M_TRIM_THRESHOLD, 4 * HEAP_BYTES);
	char *b = malloc(HEAP_BYTES);
	if (!b)
		return;
	/* The whole pages within the block. */
	char *a = b + (4096 - (uintptr_t)b % 4096) % 4096;
	size_t len = (size_t)(b + HEAP_BYTES - a) / 4096 * 4096;
	(void)madvise(a, len, MADV_POPULATE_WRITE);
	free(b);
}
