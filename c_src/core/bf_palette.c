/* bf_palette: frame classification and colours. See bf_palette.h. Pure functions. */
#include "bf_palette.h"

#include <string.h>

/* Modules of Erlang/OTP's stdlib, kernel and friends that show up in stacks. */
static const char *const bf_otp_modules[] = {
    "application", "application_controller", "application_master", "array", "base64",
    "beam_lib", "binary", "c", "calendar", "code", "code_server", "dets", "dict",
    "digraph", "disk_log", "edlin", "epp", "erl_anno", "erl_eval", "erl_lint", "erl_parse",
    "erl_scan", "error_handler", "error_logger", "file", "file_io_server", "file_server",
    "filelib", "filename", "gb_sets", "gb_trees", "gen", "gen_event", "gen_server",
    "gen_statem", "gen_tcp", "gen_udp", "global", "global_group", "group", "heart", "inet",
    "inet_db", "inet_tcp", "io", "io_lib", "io_lib_format", "io_lib_pretty", "lists",
    "logger", "logger_backend", "logger_server", "logger_simple_h", "logger_std_h", "maps",
    "math", "net_kernel", "orddict", "ordsets", "os", "peer", "pg", "pool", "proc_lib",
    "proplists", "queue", "rand", "re", "rpc", "erpc", "sets", "shell", "sofs", "ssl",
    "string", "supervisor", "supervisor_bridge", "sys", "timer", "unicode", "user_drv",
    "user_sup", "uri_string", "zip", "crypto", "public_key", "httpc", "httpd", "mnesia",
    "cowboy", "ranch", "cowlib", "telemetry", NULL};

/* Modules whose functions are (mostly) BIFs or NIFs implemented in C. */
static const char *const bf_bif_modules[] = {
    "erlang", "erts_internal", "ets", "atomics", "counters", "persistent_term",
    "prim_file", "prim_inet", "prim_socket", "prim_net", "prim_buffer", "prim_eval",
    "zlib", "erts_debug", "erl_prim_loader", "init", "socket", NULL};

static const char *const bf_elixir_modules[] = {
    "Access", "Agent", "Application", "Base", "Bitwise", "Calendar", "Code", "Date",
    "DateTime", "Dict", "DynamicSupervisor", "Enum", "Enumerable", "Exception", "File",
    "Float", "Function", "GenServer", "HashDict", "IO", "Inspect", "Integer", "Kernel",
    "Keyword", "List", "Logger", "Macro", "Map", "MapSet", "Module", "NaiveDateTime",
    "Node", "OptionParser", "Path", "Port", "Process", "Protocol", "Range", "Record",
    "Regex", "Registry", "Stream", "String", "StringIO", "Supervisor", "System", "Task",
    "Time", "Tuple", "URI", "Version", "Collectable", "Phoenix", "Plug", "Ecto", NULL};

static int bf_has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k > n)
        return 0;
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

static int bf_in_list(const char *s, size_t n, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (strlen(list[i]) == n && memcmp(list[i], s, n) == 0)
            return 1;
    return 0;
}

bf_frame_class bf_classify(const char *name, size_t len)
{
    if (len == 0)
        return BF_CLASS_PSEUDO;
    if (bf_has(name, len, "garbage_collect"))
        return BF_CLASS_GC;
    if ((len == 6 && !memcmp(name, "[idle]", 6)) || (len == 7 && !memcmp(name, "[sleep]", 7)) ||
        (len == 5 && !memcmp(name, "SLEEP", 5)) || (len == 5 && !memcmp(name, "sleep", 5)))
        return BF_CLASS_IDLE;
    if (name[0] == '[' && name[len - 1] == ']')
        return BF_CLASS_PSEUDO;
    if (len > 8 && !memcmp(name, "global::", 8))
        return BF_CLASS_JIT;
    if (bf_has(name, len, "::"))
        return BF_CLASS_JIT;
    const char *colon = memchr(name, ':', len);
    const char *slash = memchr(name, '/', len);
    if (colon && slash && colon < slash) {
        size_t mlen = (size_t)(colon - name);
        if (bf_in_list(name, mlen, bf_bif_modules))
            return BF_CLASS_BIF;
        if (bf_in_list(name, mlen, bf_otp_modules))
            return BF_CLASS_OTP;
        return BF_CLASS_USER;
    }
    if (slash && name[0] >= 'A' && name[0] <= 'Z') {
        /* Elixir: Mod.Sub.fun/2: the module is everything before the last '.' that
         * precedes the '/'. Stdlib if its first segment is a known stdlib module. */
        const char *dot = memchr(name, '.', (size_t)(slash - name));
        size_t first = dot ? (size_t)(dot - name) : (size_t)(slash - name);
        if (bf_in_list(name, first, bf_elixir_modules))
            return BF_CLASS_ELIXIR;
        return BF_CLASS_USER;
    }
    if (!slash)
        return BF_CLASS_NATIVE; /* a C symbol, beam.smp+0x..., a thread name */
    return BF_CLASS_USER;
}

const char *bf_class_label(bf_frame_class c)
{
    static const char *const labels[BF_CLASS_COUNT] = {
        "your code", "Erlang/OTP", "Elixir", "BIF/NIF", "native C",
        "JIT glue", "GC", "idle", "pseudo"};
    return c < BF_CLASS_COUNT ? labels[c] : "?";
}

static unsigned bf_name_hash(const char *name, size_t len)
{
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (unsigned)h;
}

/* Base colour and spread per class: rgb = base + spread * v, v in [0,1) per channel. */
static const int bf_class_base[BF_CLASS_COUNT][6] = {
    /* r, g, b, dr, dg, db */
    {215, 70, 25, 40, 70, 30},    /* user: orange-red (kept clear of the BIF yellow) */
    {70, 110, 200, 50, 60, 50},   /* OTP: blue */
    {140, 80, 190, 50, 50, 50},   /* Elixir: purple */
    {210, 190, 40, 40, 50, 40},   /* BIF/NIF: yellow */
    {60, 170, 70, 50, 60, 40},    /* native: green */
    {40, 160, 160, 40, 50, 50},   /* JIT glue: teal */
    {140, 95, 55, 40, 30, 20},    /* GC: brown */
    {205, 205, 205, 30, 30, 30},  /* idle: light grey */
    {120, 120, 120, 20, 20, 20},  /* pseudo: dark grey */
};

void bf_palette_color(bf_palette p, bf_frame_class c, const char *name, size_t len, int rgb[3])
{
    unsigned h = name ? bf_name_hash(name, len) : 0x80808080u;
    double v1 = (double)(h & 0xff) / 256.0, v2 = (double)((h >> 8) & 0xff) / 256.0,
           v3 = (double)((h >> 16) & 0xff) / 256.0;
    if (p == BF_PALETTE_HOT) {
        /* flamegraph.pl's "hot" ranges */
        rgb[0] = 205 + (int)(50 * v3);
        rgb[1] = (int)(230 * v1);
        rgb[2] = (int)(55 * v2);
        return;
    }
    const int *b = bf_class_base[c < BF_CLASS_COUNT ? c : 0];
    rgb[0] = b[0] + (int)(b[3] * v1);
    rgb[1] = b[1] + (int)(b[4] * v2);
    rgb[2] = b[2] + (int)(b[5] * v3);
    for (int i = 0; i < 3; i++)
        rgb[i] = rgb[i] > 255 ? 255 : rgb[i];
}

int bf_palette_parse(const char *s)
{
    if (!strcmp(s, "hot"))
        return BF_PALETTE_HOT;
    if (!strcmp(s, "beam"))
        return BF_PALETTE_BEAM;
    return -1;
}
