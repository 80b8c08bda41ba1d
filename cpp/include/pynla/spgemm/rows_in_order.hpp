// Where the rows of C go as the single numeric pass makes them: appended in row order to arrays
// reserved at an upper bound on nnz(C) (address space only: pages no row reaches are never
// backed), so no symbolic pass is needed to size C.
// Rows are made by tasks (contiguous row ranges) in parallel and committed in task order
// (parallel_for_ordered: possibly on another thread than the one that made them). A task that
// starts when every earlier task is committed knows where its rows go and writes them straight
// into C ("direct"); any other task writes into a lane of its own, its commit claims the next
// place in C, and the committing thread then copies the lane there while other tasks run. With
// one thread every task is direct; with more, the memory beyond C is the lanes of the tasks
// begun and not yet committed: one task's rows per thread, more when a thread holding an early
// task has been descheduled (at most kMaxUncommittedTasks more: parallel.hpp).
// C grows (and may move) only when no copy into it is under way: growth happens in a commit or
// in a direct task, and copies are claimed only in commits, so it waits for the running copies.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "pynla/common/buffer.hpp"
#include "pynla/common/csr.hpp"

namespace pynla::spgemm::detail {

template <class I, class T>
class RowsInOrder {
public:
    // C of n_rows x n_cols, made by n_tasks tasks on n_threads threads, with room for `capacity`
    // entries to begin with (it grows if needed).
    RowsInOrder(std::int64_t n_rows, std::int64_t n_cols, std::int64_t capacity, std::int64_t n_tasks, int n_threads)
        : c_{n_rows, n_cols, Buffer<I>(n_rows + 1), Buffer<I>(capacity), Buffer<T>(capacity)},
          task_lanes_(static_cast<std::size_t>(n_tasks), nullptr),
          thread_lanes_(static_cast<std::size_t>(n_threads), nullptr) {
        c_.indptr[0] = 0;
    }

    // Called on `thread` before the first row of `task`, whose rows begin at first_row.
    void begin_task(int thread, std::int64_t task, std::int64_t first_row) {
        Lane& lane = *(task_lanes_[static_cast<std::size_t>(task)] = thread_lanes_[thread] = free_lane());
        lane.direct = committed_tasks_.load(std::memory_order_acquire) == task;
        lane.first_row = first_row;
        lane.size = 0;
        lane.row_ends.clear();
    }

    // Room for up to `count` entries of the next row of the task on `thread`: (indices, values).
    std::pair<I*, T*> room(int thread, std::int64_t count) {
        Lane& lane = *thread_lanes_[thread];
        if (lane.direct) {
            reserve(nnz_ + count);
            return {c_.indices.data() + nnz_, c_.data.data() + nnz_};
        }
        if (static_cast<std::int64_t>(lane.indices.size()) < lane.size + count) {
            const auto grown = static_cast<std::size_t>(std::max(lane.size + count, 2 * lane.size));
            lane.indices.resize(grown);
            lane.values.resize(grown);
        }
        return {lane.indices.data() + lane.size, lane.values.data() + lane.size};
    }

    // The row i, just written on `thread` where room() said, kept `written` entries.
    void end_row(int thread, std::int64_t i, std::int64_t written) {
        Lane& lane = *thread_lanes_[thread];
        if (lane.direct) {
            nnz_ += written;
            c_.indptr[i + 1] = checked_index(nnz_);
        } else {
            lane.size += written;
            lane.row_ends.push_back(lane.size);
        }
    }

    // In task order: the task's lane claims its place at the end of C (a direct task's rows are
    // in place already).
    void commit(std::int64_t task) {
        Lane& lane = *task_lanes_[static_cast<std::size_t>(task)];
        if (!lane.direct) {
            checked_index(nnz_ + lane.size);
            reserve(nnz_ + lane.size);
            for (std::size_t r = 0; r < lane.row_ends.size(); ++r) {
                c_.indptr[lane.first_row + static_cast<std::int64_t>(r) + 1] = static_cast<I>(nnz_ + lane.row_ends[r]);
            }
            lane.place = nnz_;
            nnz_ += lane.size;
            if (lane.size > 0) copies_under_way_.fetch_add(1);
        }
        committed_tasks_.store(task + 1, std::memory_order_release);
    }

    // After the task's commit, in parallel with other tasks: copies the lane to the place its
    // commit claimed, and frees the lane.
    void finish(std::int64_t task) {
        Lane* lane = task_lanes_[static_cast<std::size_t>(task)];
        if (!lane->direct && lane->size > 0) {
            std::memcpy(c_.indices.data() + lane->place, lane->indices.data(), static_cast<std::size_t>(lane->size) * sizeof(I));
            std::memcpy(c_.data.data() + lane->place, lane->values.data(), static_cast<std::size_t>(lane->size) * sizeof(T));
            copies_under_way_.fetch_sub(1);
        }
        const std::lock_guard<std::mutex> lock(lanes_mutex_);
        free_lanes_.push_back(lane);
    }

    // C, its arrays cut to its entries (their memory keeps its reserved size: the pages past the
    // entries were never touched, and the whole block can serve the next product, from the block
    // cache). Call once, after every task is committed.
    Csr<I, T> result() {
        c_.indices.shrink_to(nnz_);
        c_.data.shrink_to(nnz_);
        return std::move(c_);
    }

private:
    struct alignas(64) Lane {  // a cache line of its own: its thread updates it per row
        bool direct = false;
        std::int64_t first_row = 0;
        std::int64_t size = 0;                 // entries in the lane
        std::int64_t place = 0;                // where the commit put them in C
        std::vector<I> indices;                // the task's rows, when not direct
        std::vector<T> values;
        std::vector<std::int64_t> row_ends;    // end of each row of the task in the lane
    };

    // A lane no task holds: a freed one (its arrays keep their size, so a thread's next task
    // rarely allocates), or a new one.
    Lane* free_lane() {
        const std::lock_guard<std::mutex> lock(lanes_mutex_);
        if (free_lanes_.empty()) return lanes_.emplace_back(std::make_unique<Lane>()).get();
        Lane* lane = free_lanes_.back();
        free_lanes_.pop_back();
        return lane;
    }

    static I checked_index(std::int64_t nnz) {
        if (nnz > std::numeric_limits<I>::max()) throw std::overflow_error("spgemm: nnz(C) does not fit the index type");
        return static_cast<I>(nnz);
    }

    // Grows C's arrays (at least doubling) to hold `size` entries, once no copy into them runs.
    void reserve(std::int64_t size) {
        if (size <= c_.indices.size()) return;
        while (copies_under_way_.load() != 0) std::this_thread::yield();
        const std::int64_t grown = std::max(size, 2 * c_.indices.size());
        c_.indices.resize(grown);
        c_.data.resize(grown);
    }

    Csr<I, T> c_;
    std::int64_t nnz_ = 0;  // entries of C committed so far, or written by the direct task
    std::atomic<std::int64_t> committed_tasks_{0};
    std::atomic<int> copies_under_way_{0};  // lanes placed in C by a commit and not yet copied
    std::mutex lanes_mutex_;                    // guards lanes_ and free_lanes_
    std::vector<std::unique_ptr<Lane>> lanes_;  // every lane made
    std::vector<Lane*> free_lanes_;
    std::vector<Lane*> task_lanes_;    // the lane of each task begun, until it is finished
    std::vector<Lane*> thread_lanes_;  // the lane of the task each thread is making
};

}  // namespace pynla::spgemm::detail
