/* Aligned text tables: cells are collected, then printed with each column as
 * wide as its widest cell (counted in characters, so "±" is one). */
#ifndef JST_TABLE_H
#define JST_TABLE_H

#include <stdio.h>

struct jst_table;

/* align: one letter per column, 'l' or 'r'. NULL on out of memory. */
struct jst_table *jst_table_new(const char *align);
void jst_table_free(struct jst_table *t);

/* Append a cell to the current row (printf-style); a row ends with jst_table_end_row. */
void jst_table_cell(struct jst_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void jst_table_end_row(struct jst_table *t);
/* An empty line between groups of rows. */
void jst_table_gap(struct jst_table *t);

/* Print every row after indent; trailing blanks of a row are dropped. */
void jst_table_print(const struct jst_table *t, FILE *f, const char *indent);

/* Display width of UTF-8 text: code points, not bytes. */
size_t jst_text_width(const char *s);

#endif
