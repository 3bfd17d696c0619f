// sslab-extractor: a worker that runs EXTRACT jobs (per-layer features of a
// checkpoint) on its one device. Flags: see services/worker/worker_main.h.
#include "services/jobs/jobs.h"

int main(int argc, char** argv) {
  return sslab::services::WorkerMain(argc, argv,
                                     sslab::services::ExtractorProgram());
}
