// sslab-evaluator: a worker that runs PROBE jobs (linear and MLP probes on
// features) on its one device. Flags: see services/worker/worker_main.h.
#include "services/jobs/jobs.h"

int main(int argc, char** argv) {
  return sslab::services::WorkerMain(argc, argv,
                                     sslab::services::EvaluatorProgram());
}
