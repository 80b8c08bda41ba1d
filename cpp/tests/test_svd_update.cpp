// The truncated-SVD updating kernels (pynla/svd_update/) under AddressSanitizer and UBSan:
// touched_rows against a std::map (empty blocks, repeated and unsorted indices, every index
// distinct, n of 1, out-of-range indices rejected with the workspace restored), and
// bidiagonalize against the same recurrence on dense matrices in long double (blocks with
// empty and repeated entries, s or k of 0 and 1, early stops, 1 against 3 threads bit for bit),
// for int32 and int64 indices.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <stdexcept>
#include <vector>

#include "pynla/common/parallel.hpp"
#include "pynla/svd_update/bidiagonalization.hpp"
#include "pynla/svd_update/touched_rows.hpp"

namespace {

using namespace pynla;

int n_checks = 0, n_failures = 0;

void expect(bool ok, const char* what, std::int64_t nnz, std::int64_t n) {
    ++n_checks;
    if (!ok) {
        ++n_failures;
        std::printf("FAIL %s (nnz=%lld n=%lld)\n", what, (long long)nnz, (long long)n);
    }
}

bool all_unmarked(const std::vector<std::int64_t>& marks) {
    for (const auto mark : marks) {
        if (mark != -1) return false;
    }
    return true;
}

template <class I>
void check(const std::vector<I>& indices, std::int64_t n) {
    const auto nnz = static_cast<std::int64_t>(indices.size());
    std::vector<std::int64_t> marks(static_cast<std::size_t>(n), -1);
    const auto rows = svd_update::touched_rows(indices.data(), nnz, n, marks.data());
    // The reference: first-met order through a map from index to position.
    std::map<I, std::int64_t> position;
    std::vector<I> want_touched;
    for (const I index : indices) {
        if (position.emplace(index, static_cast<std::int64_t>(want_touched.size())).second) want_touched.push_back(index);
    }
    bool same_touched = rows.touched.size() == static_cast<std::int64_t>(want_touched.size());
    for (std::size_t t = 0; same_touched && t < want_touched.size(); ++t) {
        same_touched = rows.touched.data()[t] == want_touched[t];
    }
    expect(same_touched, "touched rows in first-met order", nnz, n);
    bool same_local = rows.local.size() == nnz;
    for (std::int64_t p = 0; same_local && p < nnz; ++p) {
        same_local = rows.local.data()[p] == position[indices[static_cast<std::size_t>(p)]] &&
                     rows.touched.data()[rows.local.data()[p]] == indices[static_cast<std::size_t>(p)];
    }
    expect(same_local, "local positions", nnz, n);
    expect(all_unmarked(marks), "marks restored", nnz, n);
}

template <class I>
void check_rejects(std::vector<I> indices, std::int64_t n) {
    std::vector<std::int64_t> marks(static_cast<std::size_t>(n), -1);
    bool threw = false;
    try {
        svd_update::touched_rows(indices.data(), static_cast<std::int64_t>(indices.size()), n, marks.data());
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    expect(threw, "out-of-range index rejected", static_cast<std::int64_t>(indices.size()), n);
    expect(all_unmarked(marks), "marks restored after a rejection", static_cast<std::int64_t>(indices.size()), n);
}

template <class I>
void run_all(std::mt19937_64& rng) {
    check<I>({}, 0);
    check<I>({}, 5);
    check<I>({0}, 1);
    check<I>({0, 0, 0}, 1);
    check<I>({4, 1, 4, 3, 1, 0}, 5);
    for (const std::int64_t n : {1, 7, 100, 5000}) {
        for (const std::int64_t nnz : {1, 10, 1000, 20000}) {
            std::uniform_int_distribution<std::int64_t> uniform(0, n - 1);
            std::vector<I> indices(static_cast<std::size_t>(nnz));
            for (auto& index : indices) index = static_cast<I>(uniform(rng));
            check(indices, n);
            // Power-law rows: a few indices repeat most of the time.
            for (auto& index : indices) index = static_cast<I>(uniform(rng) % (1 + uniform(rng) % 8));
            check(indices, n);
        }
        std::vector<I> every(static_cast<std::size_t>(n));  // every index once, descending
        for (std::int64_t i = 0; i < n; ++i) every[static_cast<std::size_t>(i)] = static_cast<I>(n - 1 - i);
        check(every, n);
    }
    check_rejects<I>({0, 3, 1, 5}, 5);
    check_rejects<I>({2, -1}, 5);
    check_rejects<I>({0}, 0);
}

// A random CSR block of s rows over n columns: empty rows, repeated columns in a row.
template <class I>
struct Block {
    std::vector<I> indptr, indices;
    std::vector<double> data;
    std::int64_t s, n;
    CsrView<I, double> view() const { return {s, n, indptr.data(), indices.data(), data.data()}; }
    double at(std::int64_t row, std::int64_t col) const {
        double sum = 0;
        for (I e = indptr[row]; e < indptr[row + 1]; ++e) sum += indices[e] == col ? data[e] : 0.0;
        return sum;
    }
};

template <class I>
Block<I> random_block(std::mt19937_64& rng, std::int64_t s, std::int64_t n, std::int64_t per_row) {
    Block<I> block{{0}, {}, {}, s, n};
    std::uniform_int_distribution<std::int64_t> column(0, n - 1), length(0, per_row);
    std::normal_distribution<double> value;
    for (std::int64_t row = 0; row < s; ++row) {
        const std::int64_t entries = n > 0 ? length(rng) : 0;
        for (std::int64_t e = 0; e < entries; ++e) {
            block.indices.push_back(static_cast<I>(column(rng)));
            block.data.push_back(value(rng));
        }
        block.indptr.push_back(static_cast<I>(block.indices.size()));
    }
    return block;
}

// The recurrence of bidiagonalize on dense Y_t = Z^T, in long double (same steps, same stops).
struct Reference {
    std::int64_t steps = 0;
    std::vector<long double> b, c;
};

template <class I>
Reference reference_bidiagonalize(const Block<I>& z, const std::vector<double>& cm, std::int64_t k,
                                  const std::vector<double>& p0, std::int64_t l, double tiny) {
    const std::int64_t s = z.s, n = z.n;
    using LD = long double;
    Reference out;
    std::vector<std::vector<LD>> p{std::vector<LD>(p0.begin(), p0.end())};
    std::vector<LD> b_prev(n, 0), c_prev(k, 0);
    LD beta = 0;
    for (std::int64_t i = 0; i < l; ++i) {
        std::vector<LD> b(n, 0), c(k, 0);
        for (std::int64_t r = 0; r < n; ++r) {
            for (std::int64_t j = 0; j < s; ++j) b[r] += z.at(j, r) * p[i][j];
            b[r] -= beta * b_prev[r];
        }
        for (std::int64_t r = 0; r < k; ++r) {
            for (std::int64_t j = 0; j < s; ++j) c[r] += cm[r * s + j] * p[i][j];
            c[r] -= beta * c_prev[r];
        }
        LD squares = 0;
        for (auto v : b) squares += v * v;
        for (auto v : c) squares -= v * v;
        const LD alpha = std::sqrt(std::max(squares, LD{0}));
        if (!(alpha > tiny)) break;
        for (auto& v : b) v /= alpha;
        for (auto& v : c) v /= alpha;
        out.b.insert(out.b.end(), b.begin(), b.end());
        out.c.insert(out.c.end(), c.begin(), c.end());
        out.steps = i + 1;
        if (out.steps == l) break;
        std::vector<LD> next(s, 0);
        for (std::int64_t j = 0; j < s; ++j) {
            for (std::int64_t r = 0; r < n; ++r) next[j] += z.at(j, r) * b[r];
            for (std::int64_t r = 0; r < k; ++r) next[j] -= cm[r * s + j] * c[r];
            next[j] -= alpha * p[i][j];
        }
        for (int pass = 0; pass < 2; ++pass) {
            for (std::int64_t j = 0; j <= i; ++j) {
                LD h = 0;
                for (std::int64_t r = 0; r < s; ++r) h += p[j][r] * next[r];
                for (std::int64_t r = 0; r < s; ++r) next[r] -= h * p[j][r];
            }
        }
        LD norm = 0;
        for (auto v : next) norm += v * v;
        beta = std::sqrt(norm);
        if (!(beta > tiny)) break;
        for (auto& v : next) v /= beta;
        p.push_back(next);
        b_prev = b;
        c_prev = c;
    }
    return out;
}

template <class Got>
bool close_to(const Got& got, const std::vector<long double>& want, double tolerance) {
    if (got.size() != static_cast<std::int64_t>(want.size())) return false;
    for (std::size_t e = 0; e < want.size(); ++e) {
        if (!(std::fabs(static_cast<long double>(got.data()[e]) - want[e]) <= tolerance)) return false;
    }
    return true;
}

template <class I>
void check_bidiagonalize(std::mt19937_64& rng, std::int64_t s, std::int64_t n, std::int64_t k, std::int64_t l,
                         std::int64_t per_row) {
    const auto z = random_block<I>(rng, s, n, per_row);
    std::normal_distribution<double> value;
    std::vector<double> cm(static_cast<std::size_t>(k * s)), p0(static_cast<std::size_t>(s));
    for (auto& v : cm) v = 0.1 * value(rng);  // C small: the residual keeps most of Y
    double norm = 0;
    for (auto& v : p0) norm += (v = value(rng)) * v;
    for (auto& v : p0) v /= norm > 0 ? std::sqrt(norm) : 1.0;
    const double tiny = 1e-8;  // far above rounding: the early stops of both fall on the same step
    const auto want = reference_bidiagonalize(z, cm, k, p0, l, tiny);
    bytes_per_thread().store(1);  // every product takes every thread
    set_max_threads(3);
    const auto threaded = svd_update::bidiagonalize(z.view(), cm.data(), k, p0.data(), l, tiny);
    set_max_threads(1);
    const auto serial = svd_update::bidiagonalize(z.view(), cm.data(), k, p0.data(), l, tiny);
    bytes_per_thread().store(kBytesPerThread);
    // Early steps agree closely; Lanczos amplifies rounding in later ones (the left vectors are
    // not reorthogonalized), so the comparison is loose enough for l steps of it.
    expect(serial.steps == want.steps, "bidiagonalize: steps", s, n);
    expect(close_to(serial.b, want.b, 1e-7) && close_to(serial.c, want.c, 1e-7), "bidiagonalize: vectors", s, n);
    bool same = threaded.steps == serial.steps && threaded.b.size() == serial.b.size();
    for (std::int64_t e = 0; same && e < serial.b.size(); ++e) same = threaded.b.data()[e] == serial.b.data()[e];
    for (std::int64_t e = 0; same && e < serial.c.size(); ++e) same = threaded.c.data()[e] == serial.c.data()[e];
    expect(same, "bidiagonalize: same bits on 1 and 3 threads", s, n);
}

template <class I>
void run_bidiagonalize(std::mt19937_64& rng) {
    for (const std::int64_t s : {0, 1, 5, 30}) {
        for (const std::int64_t n : {0, 1, 7, 60}) {
            for (const std::int64_t k : {0, 1, 4}) {
                for (const std::int64_t l : {0, 1, 3, 8}) check_bidiagonalize<I>(rng, s, n, k, l, 4);
            }
        }
    }
    check_bidiagonalize<I>(rng, 40, 200, 6, 12, 30);  // denser rows
}

}  // namespace

int main() {
    std::mt19937_64 rng(17);
    run_all<std::int32_t>(rng);
    run_all<std::int64_t>(rng);
    run_bidiagonalize<std::int32_t>(rng);
    run_bidiagonalize<std::int64_t>(rng);
    std::printf("test_svd_update_cpp: %d checks, %d failures\n", n_checks, n_failures);
    return n_failures == 0 ? 0 : 1;
}
