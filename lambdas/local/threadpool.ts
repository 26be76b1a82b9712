// Imported first by the local server: file writes, fsyncs and hashing run on libuv's thread pool,
// whose default of 4 threads caps how many stores can wait on the disk at once.
process.env.UV_THREADPOOL_SIZE ??= '16';
