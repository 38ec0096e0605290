"""The subscriber's web pages (`digest serve`): sign up, confirm, manage, leave, vote.

An entry point like the CLI: it reads forms and shows answers, and leaves every decision to
the jobs (digest.jobs.signup, digest.jobs.storepreview) and the store roles.
"""
