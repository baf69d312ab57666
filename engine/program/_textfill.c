/* engine.program._textfill: an optional C accelerator of the batch route's fast writer
 * (engine/program/batch_write.py, FastWriter.write_all). Built by `pip install` where a C compiler is present
 * (pyproject.toml, ext-modules, optional); where it is not, or GRADSERVE_TEXT_ACCEL=0, the pure-Python path,
 * which stays the reference, writes the same bytes (tests/engine/test_textfill.py holds the two to each other).
 *
 * One job: every document's answer of a vectorized batch chunk written into one bytes object, from
 *   - orjson's text of the chunk's numbers ("[x,y,...]", `width` numbers a document, in the template's order):
 *     each number's text is copied as orjson wrote it (its shortest repr);
 *   - the template's layout: per document, in order, constant texts, "the next number" and reprs;
 *   - the reprs' values (float64 holding float16/float32 values, rows x documents): each written as `%.{p}f`,
 *     or `%.0f.` for a whole value, by exact integer arithmetic (below), never by printf;
 *   - which documents to write (ok[j] != 0); the others get only the wrap, size 0 (the writer writes them).
 * The output's size is computed first (pass 1, nothing allocated) and checked against `cap` before the one
 * allocation; pass 2 fills it with the GIL released (only the buffers held here are touched).
 *
 * A repr's exactness: v = m * 2**e with m below 2**24 (float32; float16 below 2**11), so a = |v| * 10**p
 * (p <= 6: 10**p = 2**p * 5**p, 5**6 < 2**14) has at most 38 significant bits and is exact in a double; rounding
 * it to an integer q, ties to even, is what `%.{p}f` does to v's exact decimal expansion; then q's digits with the
 * point p digits from the end. A value whose float32 rounding is not itself is declined (None: the Python path).
 * Ties are broken here, not by the FPU's rounding mode. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { ITEM_TEXT, ITEM_NUMBER, ITEM_REPR };

typedef struct {
    int kind;
    const char *text;   /* ITEM_TEXT: its bytes (owned by the layout tuple, alive for the call) */
    Py_ssize_t len;
    Py_ssize_t row;     /* ITEM_REPR: its row of `values` */
    int p;              /* ITEM_REPR: decimals, 1 to 6 */
} Item;

static const uint64_t POW10[7] = {1, 10, 100, 1000, 10000, 100000, 1000000};

/* "00" .. "99": two digits at a time */
static const char PAIRS[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* The fixed-point range (engine.printing.FIXED_RANGE): the callers pass only documents whose values are in it,
 * but a repr is never written for a value outside it (its size would be unbounded), whatever the caller says. */
#define FIXED_LO 1.0e-4
#define FIXED_HI 1.0e8

/* A repr's code: q = |v| * 10**p rounded to the nearest integer, ties to even (exact: see the top), times 4,
 * plus 2 where v < 0 and 1 where v is whole; -1 where v is not a float32 value in the fixed-point range (the
 * caller declines). q is at most 10**14, so the code fits in 49 bits. */
static int64_t repr_code(double v, int p)
{
    double a = fabs(v);
    if (!(a >= FIXED_LO && a <= FIXED_HI) || (double)(float)v != v)
        return -1;
    double x = a * (double)POW10[p];  /* below 10**14 < 2**53 */
    double f = floor(x);
    double d = x - f;                 /* exact */
    int64_t q = (int64_t)f;
    if (d > 0.5 || (d == 0.5 && (q & 1)))
        q += 1;
    return q * 4 + (v < 0) * 2 + (floor(a) == a);
}

static int ndigits(uint64_t x)  /* x below 10**9 here (the integer part of a value up to 10**8) */
{
    int n = 1;
    for (uint64_t t = 10; n < 19 && x >= t; t *= 10)
        n++;
    return n;
}

/* The repr's length: "[-]ints." and, unless v is whole, p decimals. */
static Py_ssize_t repr_len(int64_t code, int p)
{
    return ((code >> 1) & 1) + ndigits((uint64_t)(code >> 2) / POW10[p]) + 1 + ((code & 1) ? 0 : p);
}

/* The n low digits of x, written to end before `end`. */
static void put_digits(char *end, uint64_t x, int n)
{
    for (; n >= 2; n -= 2, x /= 100) {
        end -= 2;
        memcpy(end, PAIRS + 2 * (x % 100), 2);
    }
    if (n)
        end[-1] = (char)('0' + x % 10);
}

/* Writes the repr at out (repr_len bytes); returns the bytes written. */
static Py_ssize_t repr_put(char *out, int64_t code, int p)
{
    char *o = out;
    uint64_t q = (uint64_t)(code >> 2), ints = q / POW10[p];
    int n = ndigits(ints);
    if (code & 2)
        *o++ = '-';
    put_digits(o + n, ints, n);
    o += n;
    *o++ = '.';
    if (!(code & 1)) {
        put_digits(o + p, q % POW10[p], p);
        o += p;
    }
    return o - out;
}

typedef struct {
    const char *dump, *dump_end;  /* the numbers' text between the brackets: [dump, dump_end) */
    const Item *items;
    Py_ssize_t nitems, n, width, rows, reprs;
    const double *values;         /* rows x n */
    const unsigned char *ok;      /* n (a copy of the caller's) */
    const char *w0, *w1;
    Py_ssize_t l0, l1;
    Py_ssize_t texts;             /* a document's constant texts' bytes */
    Py_ssize_t *ends;             /* pass 1's: each number's end in dump (n * width) */
    int64_t *codes;               /* pass 1's: each repr's code, document after document (n * reprs) */
} Job;

/* Pass 1: each document's size (its wrap not counted) in sizes, each number's end and each repr's code, every
 * read checked; nothing written. Returns the total bytes (the wraps counted), -1 where the input is not what the
 * layout says (ValueError), -2 where a repr's value is declined (the Python path). */
static Py_ssize_t measure(const Job *J, Py_ssize_t *sizes)
{
    const char *s = J->dump;
    Py_ssize_t total = 0, seen = 0, r = 0;
    for (Py_ssize_t j = 0; j < J->n; j++) {
        Py_ssize_t size = J->ok[j] ? J->texts : 0;
        for (Py_ssize_t k = 0; k < J->nitems; k++) {
            const Item *it = &J->items[k];
            if (it->kind == ITEM_NUMBER) {
                /* each number ends at a comma but the chunk's last, which ends at dump_end (checked below) */
                if (s > J->dump_end)
                    return -1;
                const char *e = memchr(s, ',', (size_t)(J->dump_end - s));
                if (e == NULL)
                    e = J->dump_end;
                if (e == s)
                    return -1;
                J->ends[seen++] = e - J->dump;
                if (J->ok[j])
                    size += e - s;
                s = e + 1;
            } else if (it->kind == ITEM_REPR && J->ok[j]) {
                int64_t code = repr_code(J->values[it->row * J->n + j], it->p);
                if (code < 0)
                    return -2;
                J->codes[r++] = code;
                size += repr_len(code, it->p);
            }
        }
        sizes[j] = size;
        if (size > PY_SSIZE_T_MAX / 4 - total)
            return -1;
        total += size + J->l0 + J->l1;
    }
    if (seen != J->n * J->width || s != J->dump_end + 1)
        return -1;  /* numbers left over, or fewer than the layout takes */
    return total;
}

/* Pass 2: every document written into out[0, total), from pass 1's ends and codes and the copy of ok (nothing
 * another thread could change); every write is bounded by the buffer's end as well (REPR_MAX: a repr's most
 * bytes), so that pass 2 is safe by itself. Returns the bytes written, or -1 where a document's size is not pass
 * 1's or a write would pass the end (neither can be). */
#define REPR_MAX 32  /* a repr's most bytes for any code: "-", 19 digits (a uint64), ".", 6 decimals: 27 */
#define PUT(src, len)                                          \
    do {                                                       \
        if ((len) < 0 || (len) > limit - out)                  \
            return -1;                                         \
        memcpy(out, (src), (size_t)(len));                     \
        out += (len);                                          \
    } while (0)

static Py_ssize_t fill_all(const Job *J, const Py_ssize_t *sizes, char *out, Py_ssize_t total)
{
    char *start = out, *limit = out + total;
    Py_ssize_t seen = 0, r = 0, at = 0;
    for (Py_ssize_t j = 0; j < J->n; j++) {
        PUT(J->w0, J->l0);
        char *doc = out;
        for (Py_ssize_t k = 0; k < J->nitems; k++) {
            const Item *it = &J->items[k];
            if (it->kind == ITEM_NUMBER) {
                Py_ssize_t end = J->ends[seen++];
                if (J->ok[j])
                    PUT(J->dump + at, end - at);
                at = end + 1;
            } else if (!J->ok[j]) {
                continue;
            } else if (it->kind == ITEM_TEXT) {
                PUT(it->text, it->len);
            } else if (limit - out >= REPR_MAX) {  /* (the common case: room for any repr, written in place) */
                out += repr_put(out, J->codes[r++], it->p);
            } else {
                char tmp[REPR_MAX];
                Py_ssize_t m = repr_put(tmp, J->codes[r++], it->p);
                PUT(tmp, m);
            }
        }
        if (out - doc != sizes[j])
            return -1;
        PUT(J->w1, J->l1);
    }
    return out - start;
}
#undef PUT

/* Layout items from the layout tuple: bytes (a constant text), None (the next number), (row, p) (a repr); the
 * count of numbers, and in *texts the constant texts' bytes together. */
static Py_ssize_t parse_layout(PyObject *layout, Item *items, Py_ssize_t rows, Py_ssize_t *texts)
{
    Py_ssize_t m = PyTuple_GET_SIZE(layout), numbers = 0;
    *texts = 0;
    for (Py_ssize_t k = 0; k < m; k++) {
        PyObject *x = PyTuple_GET_ITEM(layout, k);
        Item *it = &items[k];
        if (PyBytes_Check(x)) {
            it->kind = ITEM_TEXT;
            it->text = PyBytes_AS_STRING(x);
            it->len = PyBytes_GET_SIZE(x);
            if (it->len > PY_SSIZE_T_MAX / 8 - *texts) {
                PyErr_SetString(PyExc_ValueError, "the layout's texts are too long");
                return -1;
            }
            *texts += it->len;
        } else if (x == Py_None) {
            it->kind = ITEM_NUMBER;
            numbers++;
        } else if (PyTuple_Check(x) && PyTuple_GET_SIZE(x) == 2) {
            it->kind = ITEM_REPR;
            it->row = PyLong_AsSsize_t(PyTuple_GET_ITEM(x, 0));
            long p = PyLong_AsLong(PyTuple_GET_ITEM(x, 1));
            if (PyErr_Occurred())
                return -1;
            if (it->row < 0 || it->row >= rows || p < 1 || p > 6) {
                PyErr_SetString(PyExc_ValueError, "a repr's row or decimals out of range");
                return -1;
            }
            it->p = (int)p;
        } else {
            PyErr_SetString(PyExc_TypeError, "a layout item is bytes, None or (row, decimals)");
            return -1;
        }
    }
    return numbers;
}

PyDoc_STRVAR(fill_doc,
"fill(dumped, width, layout, values, ok, wrap0, wrap1, cap) -> (text, sizes) or None\n\n"
"Every document's answer, each between wrap0 and wrap1, as one bytes object, and each one's size without the\n"
"wrap; a document j with ok[j] == 0 is the wrap alone (size 0). dumped: orjson's text of the documents'\n"
"numbers, `width` a document; layout: a document's items (bytes, None for the next number, (row, p) for a\n"
"repr of values[row, j] with p decimals); values: float64, rows x documents, C-contiguous; ok: one byte a\n"
"document. None where the text would pass `cap` bytes (cap < 0: no cap) or a repr's value is not a float32\n"
"value in the fixed-point range: nothing is allocated then.");

static PyObject *fill(PyObject *self, PyObject *args)
{
    (void)self;
    const char *dump, *w0, *w1;
    Py_ssize_t dlen, width, cap;
    PyObject *layout, *vobj, *oobj, *result = NULL, *text = NULL, *list = NULL;
    Py_buffer vb = {0}, ob = {0};
    Py_ssize_t l0, l1;
    Item *items = NULL;
    Py_ssize_t *sizes = NULL;
    unsigned char *okc = NULL;
    if (!PyArg_ParseTuple(args, "y#nO!OOy#y#n", &dump, &dlen, &width, &PyTuple_Type, &layout, &vobj, &oobj,
                          &w0, &l0, &w1, &l1, &cap))
        return NULL;
    if (PyObject_GetBuffer(vobj, &vb, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return NULL;
    if (PyObject_GetBuffer(oobj, &ob, PyBUF_C_CONTIGUOUS) < 0) {
        PyBuffer_Release(&vb);
        return NULL;
    }
    Job J = {0};
    J.n = ob.len;
    if (vb.itemsize != 8 || vb.format == NULL || strcmp(vb.format, "d") != 0 || ob.itemsize != 1 || J.n < 1
        || vb.len % (8 * J.n) != 0) {
        PyErr_SetString(PyExc_ValueError, "values: float64 rows x documents; ok: a byte a document");
        goto done;
    }
    J.rows = vb.len / (8 * J.n);
    if (dlen < 2 || dump[0] != '[' || dump[dlen - 1] != ']' || width < 1 || width > dlen / J.n) {
        PyErr_SetString(PyExc_ValueError, "dumped: a JSON array of width numbers a document");
        goto done;
    }
    J.nitems = PyTuple_GET_SIZE(layout);
    items = PyMem_Calloc((size_t)J.nitems + 1, sizeof(Item));
    sizes = PyMem_Calloc((size_t)J.n, sizeof(Py_ssize_t));
    if (items == NULL || sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t numbers = parse_layout(layout, items, J.rows, &J.texts);
    if (numbers < 0)
        goto done;
    if (numbers != width) {
        PyErr_SetString(PyExc_ValueError, "the layout takes another count of numbers than width");
        goto done;
    }
    J.dump = dump + 1;
    J.dump_end = dump + dlen - 1;
    J.items = items;
    J.width = width;
    J.values = vb.buf;
    J.w0 = w0, J.w1 = w1, J.l0 = l0, J.l1 = l1;
    for (Py_ssize_t k = 0; k < J.nitems; k++)
        J.reprs += items[k].kind == ITEM_REPR;
    /* scratch sized by what is held already: a number's end per number of dumped (n * width <= its length) and
     * a code per repr value (n * reprs) */
    if ((size_t)J.width > PY_SSIZE_T_MAX / sizeof(Py_ssize_t) / (size_t)J.n
        || (size_t)J.reprs + 1 > PY_SSIZE_T_MAX / sizeof(int64_t) / (size_t)J.n) {
        PyErr_NoMemory();
        goto done;
    }
    /* (written by pass 1 before pass 2 reads them: not zeroed) */
    J.ends = PyMem_Malloc((size_t)J.n * (size_t)J.width * sizeof(Py_ssize_t));
    J.codes = PyMem_Malloc((size_t)J.n * ((size_t)J.reprs + 1) * sizeof(int64_t));
    okc = PyMem_Malloc((size_t)J.n);
    if (J.ends == NULL || J.codes == NULL || okc == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    /* ok copied: pass 2 runs without the GIL, when another thread could change the caller's array; what it
     * reads is this call's own (the copy, pass 1's ends and codes) or immutable (bytes objects) */
    memcpy(okc, ob.buf, (size_t)J.n);
    J.ok = okc;
    Py_ssize_t total = measure(&J, sizes);  /* pass 1: the sizes, every read checked; nothing written */
    if (total == -2 || (total >= 0 && cap >= 0 && total > cap)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (total < 0) {
        PyErr_SetString(PyExc_ValueError, "dumped does not hold the numbers the layout takes");
        goto done;
    }
    text = PyBytes_FromStringAndSize(NULL, total);
    if (text == NULL)
        goto done;
    Py_ssize_t again;
    Py_BEGIN_ALLOW_THREADS  /* pass 2 touches only the buffers held here, no Python object */
    again = fill_all(&J, sizes, PyBytes_AS_STRING(text), total);
    Py_END_ALLOW_THREADS
    if (again != total) {
        PyErr_SetString(PyExc_SystemError, "_textfill: the second pass disagrees with the first");
        goto done;
    }
    list = PyList_New(J.n);
    if (list == NULL)
        goto done;
    for (Py_ssize_t j = 0; j < J.n; j++) {
        PyObject *x = PyLong_FromSsize_t(sizes[j]);
        if (x == NULL)
            goto done;
        PyList_SET_ITEM(list, j, x);
    }
    result = PyTuple_Pack(2, text, list);
done:
    Py_XDECREF(text);
    Py_XDECREF(list);
    PyMem_Free(items);
    PyMem_Free(sizes);
    PyMem_Free(J.ends);
    PyMem_Free(J.codes);
    PyMem_Free(okc);
    PyBuffer_Release(&vb);
    PyBuffer_Release(&ob);
    return result;
}

/* ---- the scan's hot part (engine/program/batch_text.py _bulk): a run of one template's documents in a
 * batch's body, read here from client bytes: every read is bounded by the window's end (at most the body's),
 * nothing is recursive, and what is allocated is a bytes object a hole and a list slot a document found (each
 * document takes at least its template's text, so no more than the body's length bounds). */

/* The end of the lax hole at s (-?[0-9][-+.0-9eE]*, batch_text._LAX), or NULL where none starts there. */
static const char *lax_hole(const char *s, const char *end)
{
    if (s < end && *s == '-')
        s++;
    if (s >= end || *s < '0' || *s > '9')
        return NULL;
    for (s++; s < end; s++) {
        char c = *s;
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'))
            break;
    }
    return s;
}

PyDoc_STRVAR(bulk_doc,
"bulk(body, pos, end, lits, sep) -> (holes, ends, whole)\n\n"
"The documents of a template from body[pos] on, one after another, each its text lits[0], a lax hole, lits[1],\n"
"..., a lax hole, lits[-1], then sep, wholly before `end`: every hole's text in order (k a document), and each\n"
"document's end from pos (cumulative). whole: the run stopped at `end` (a document not wholly before it), not\n"
"at a byte that differs from the template's.");

static PyObject *bulk(PyObject *self, PyObject *args)
{
    (void)self;
    const char *body, *sep;
    Py_ssize_t blen, pos, stop, seplen;
    PyObject *lits, *holes = NULL, *ends = NULL, *result = NULL;
    const char **at = NULL;
    if (!PyArg_ParseTuple(args, "y#nnO!y#", &body, &blen, &pos, &stop, &PyTuple_Type, &lits, &sep, &seplen))
        return NULL;
    Py_ssize_t k = PyTuple_GET_SIZE(lits) - 1;
    if (pos < 0 || stop > blen || pos > stop || k < 1) {
        PyErr_SetString(PyExc_ValueError, "bulk: 0 <= pos <= end <= len(body), and a hole at least");
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= k; i++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(lits, i))) {
            PyErr_SetString(PyExc_TypeError, "bulk: lits are bytes");
            return NULL;
        }
    }
    holes = PyList_New(0);
    ends = PyList_New(0);
    at = PyMem_Malloc(2 * (size_t)k * sizeof(char *));  /* each hole's start and end in the current document */
    if (holes == NULL || ends == NULL || at == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    const char *d = body + pos, *lim = body + stop;
    int whole = 1;
    for (;;) {
        const char *p = d;
        int bad = 0;  /* 1: a byte differs; -1: the document is not wholly before lim */
        for (Py_ssize_t i = 0; i <= k && !bad; i++) {
            PyObject *lit = PyTuple_GET_ITEM(lits, i);
            Py_ssize_t len = PyBytes_GET_SIZE(lit);
            if (i > 0) {  /* the hole before lits[i] */
                const char *e = lax_hole(p, lim);
                if (e == NULL) {
                    bad = p >= lim || (*p == '-' && p + 1 >= lim) ? -1 : 1;
                    break;
                }
                at[2 * (i - 1)] = p;
                at[2 * (i - 1) + 1] = e;
                p = e;
            }
            Py_ssize_t room = lim - p, cmp = len < room ? len : room;
            if (memcmp(p, PyBytes_AS_STRING(lit), (size_t)cmp) != 0)
                bad = 1;
            else if (cmp < len)
                bad = -1;
            p += len;
        }
        if (!bad) {
            Py_ssize_t room = lim - p, cmp = seplen < room ? seplen : room;
            if (memcmp(p, sep, (size_t)cmp) != 0)
                bad = 1;
            else if (cmp < seplen)
                bad = -1;
            p += seplen;
        }
        if (bad) {
            whole = bad < 0;
            break;
        }
        for (Py_ssize_t i = 0; i < k; i++) {
            PyObject *h = PyBytes_FromStringAndSize(at[2 * i], at[2 * i + 1] - at[2 * i]);
            if (h == NULL || PyList_Append(holes, h) < 0) {
                Py_XDECREF(h);
                goto done;
            }
            Py_DECREF(h);
        }
        PyObject *e = PyLong_FromSsize_t(p - (body + pos));
        if (e == NULL || PyList_Append(ends, e) < 0) {
            Py_XDECREF(e);
            goto done;
        }
        Py_DECREF(e);
        d = p;
    }
    result = Py_BuildValue("(OOO)", holes, ends, whole ? Py_True : Py_False);
done:
    Py_XDECREF(holes);
    Py_XDECREF(ends);
    PyMem_Free(at);
    return result;
}

static PyMethodDef methods[] = {
    {"fill", fill, METH_VARARGS, fill_doc},
    {"bulk", bulk, METH_VARARGS, bulk_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "engine.program._textfill",
    "The batch fast writer's text in C (engine/program/batch_write.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__textfill(void) { return PyModule_Create(&module); }
