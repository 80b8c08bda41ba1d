// A borrowed view of a dense matrix with any strides (in elements): element (i, j) is at
// data[i * row_stride + j * col_stride]. C order has col_stride 1, Fortran order row_stride 1.
#pragma once

#include <cstdint>

namespace pynla {

template <class T>
struct MatrixView {
    const T* data = nullptr;
    std::int64_t n_rows = 0;
    std::int64_t n_cols = 0;
    std::int64_t row_stride = 0;
    std::int64_t col_stride = 0;

    const T& operator()(std::int64_t i, std::int64_t j) const { return data[i * row_stride + j * col_stride]; }
    const T* row(std::int64_t i) const { return data + i * row_stride; }
    const T* column(std::int64_t j) const { return data + j * col_stride; }
};

}  // namespace pynla
