"""Running end-to-end scenarios: a scenario spec goes in, a `ScenarioReport` comes out.

Like the rest of `checks/`, nothing here touches the database; callbacks reach
a run through a `CallbackInbox` that the caller chooses.

    runner.ScenarioRunner.run     steps in order, cleanup always, redacted report
      steps        render a request, judge an answer, poll conditions, extract values
      (templates: integrations.templating, the configuration's sandboxed Jinja2)
      http         StepClient: one request over the engine's clients and auth schemes
      inbox        CallbackInbox, MemoryInbox (the postback and its answers:
                   core.vocabulary.callbacks)
      listener     a small aiohttp server filling a MemoryInbox (`intmon e2e run`)
      clock        the injected time source (tests move a fake one)
      errors       ScenarioError: LoadRefused
    report         ScenarioReport / StepReport, JSON form
    junit          JUnit XML for CI systems
"""
