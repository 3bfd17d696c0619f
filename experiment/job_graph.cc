#include "experiment/job_graph.h"

namespace sslab::experiment {

std::vector<ProbeTarget> ProbeTargets(const EvaluationPlan& plan) {
  std::vector<ProbeTarget> targets;
  targets.reserve(plan.layers.size() * plan.probe_kinds.size() *
                  plan.label_fractions.size());
  for (const std::string& layer : plan.layers) {
    for (ProbeKind kind : plan.probe_kinds) {
      for (double fraction : plan.label_fractions) {
        targets.push_back({layer, kind, fraction});
      }
    }
  }
  return targets;
}

bool IsEvaluatedEpoch(const EvaluationPlan& plan, int epoch, bool is_final) {
  return is_final ||
         (plan.every_epochs > 0 && epoch > 0 && epoch % plan.every_epochs == 0);
}

}  // namespace sslab::experiment
