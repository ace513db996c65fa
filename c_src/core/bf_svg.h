/* bf_svg: renders a stack table as an SVG flame graph.
 *
 * Frame structure follows flamegraph.pl's, so tools and habits built on its SVGs keep
 * working: each frame is a `<g>` holding `<title>name (N samples, P%)</title>`, a `<rect>`
 * and a `<text>`; counts carry thousands separators and percents two decimals. Frames are
 * merged by bf_flame (flamegraph.pl's order and frame set); frames narrower than
 * min_width pixels are pruned (their weight stays inside their parent's width). Colours
 * come from a hash of the name, so the output is identical byte for byte for the same
 * input and options. Every name is escaped for XML: the five markup characters, control
 * bytes and invalid UTF-8 (shown as U+FFFD), so no frame name can inject markup.
 *
 * Interactive by default: an embedded script (bf_svg_script.js, no network, works from
 * file://) shows a frame's name, count and share on hover (also of the zoomed frame),
 * zooms on click (ancestors kept, dimmed), searches by regular expression (case toggle,
 * matched share shown) and keeps zoom and search in the URL fragment (#z=N&s=RE&i=1,
 * N being the frame's position in the document), so a link reopens the view. The script
 * reads names only as text. Two walks over the ordered stacks (measure, then draw) keep
 * memory at the order plus the table: no node list is built.
 */
#ifndef BF_SVG_H
#define BF_SVG_H

#include "bf_buf.h"
#include "bf_palette.h"
#include "bf_stack_table.h"

/* flamegraph.pl's defaults, so the two look alike. */
#define BF_SVG_DEFAULT_WIDTH 1200.0
#define BF_SVG_DEFAULT_FRAME_HEIGHT 16.0
#define BF_SVG_DEFAULT_FONT_SIZE 12.0
#define BF_SVG_DEFAULT_FONT_WIDTH 0.59 /* average glyph width / font size, Verdana */
#define BF_SVG_DEFAULT_MIN_WIDTH 0.1   /* px */
#define BF_SVG_XPAD 10.0
#define BF_SVG_FRAMEPAD 1.0
/* Option ranges, checked by bf_svg_check_opts. */
#define BF_SVG_MAX_WIDTH 100000.0
#define BF_SVG_MAX_TITLE 4096
/* Frames drawn at most by default: a page with a few tens of thousands of frames still
 * hovers and zooms smoothly in a browser; beyond, the minimum width is raised. */
#define BF_SVG_DEFAULT_MAX_FRAMES 30000

typedef struct bf_svg_opts {
    const char *title;      /* default "Flame Graph" */
    const char *subtitle;   /* NULL: none */
    const char *count_name; /* default "samples" */
    double width;           /* image width, px: 10 < width <= BF_SVG_MAX_WIDTH */
    double frame_height;    /* px */
    double font_size;       /* px */
    double font_width;      /* fraction of font_size */
    double min_width;       /* px; 0 draws every frame */
    double min_width_pct;   /* > 0: minimum width as a percent of the frames' width
                               (overrides min_width) */
    bf_palette palette;     /* BF_PALETTE_HOT (default) or BF_PALETTE_BEAM (with legend) */
    int inverted;           /* icicle: root at the top */
    int reverse;            /* stacks reversed: leaf frames at the root, merged */
    int flamechart;         /* no sorting: stacks in the order they were added (time order
                               for traced profiles) */
    int interactive;        /* embed the script: hover, zoom, search (default 1) */
    uint64_t max_frames;    /* frame budget (default BF_SVG_DEFAULT_MAX_FRAMES; 0: none):
                               above it the minimum width is raised until it fits, and the
                               SVG says how many frames were left out */
} bf_svg_opts;

typedef struct bf_svg_result {
    uint64_t frames_drawn;  /* including the root */
    uint64_t frames_pruned; /* narrower than the minimum width */
    uint32_t depth_max;     /* deepest frame drawn */
    double min_width_px;    /* the minimum width applied (raised by the frame budget) */
} bf_svg_result;

typedef enum bf_svg_status {
    BF_SVG_OK = 0,
    BF_SVG_EMPTY = 1,    /* no stacks, or all weight zero: nothing to draw */
    BF_SVG_NOMEM = -1,
    BF_SVG_BADOPTS = -2, /* an option out of range */
} bf_svg_status;

void bf_svg_default_opts(bf_svg_opts *o);
/* NULL when fine, else a message naming the option and its range. */
const char *bf_svg_check_opts(const bf_svg_opts *o);
bf_svg_status bf_svg_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                            bf_svg_result *res);
/* The same graph in a self-contained HTML page (the SVG inline, script included): for
 * notebooks (Livebook's Kino.HTML runs scripts; an <img> of an SVG does not). */
bf_svg_status bf_html_render(const bf_stack_table *st, const bf_svg_opts *o, bf_buf *out,
                             bf_svg_result *res);

/* A differential flame graph, like difffolded.pl + flamegraph.pl in one step: widths are
 * the `after' counts; each frame is coloured by its inclusive change (the sum over its
 * subtree of after - before), red where it grew, blue where it shrank, white unchanged,
 * scaled to the largest change drawn; tooltips add the change in percent of the total.
 * normalize: scale `before' to `after''s total first, so shares are compared rather than
 * raw counts (for runs of different lengths). html: the page instead of the bare SVG.
 * `reverse' is ignored for diffs. */
bf_svg_status bf_svg_render_diff(const bf_stack_table *before, const bf_stack_table *after,
                                 int normalize, int html, const bf_svg_opts *o, bf_buf *out,
                                 bf_svg_result *res);

/* The embedded script (generated from bf_svg_script.js at build time). */
extern const char bf_svg_script[];

/* XML-escapes s[0..n) into out. With max_chars > 0 and a longer text, writes the first
 * max_chars - 2 characters and "..", as flamegraph.pl cuts labels (characters are UTF-8
 * code points, never split). */
void bf_xml_escape(bf_buf *out, const char *s, size_t n, size_t max_chars);

#endif
