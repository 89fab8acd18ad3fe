"""
adnanh/webhook's hooks files (C{--hooks FILE}), served by hookdaemon: another
intake in front of the same jobs, journal, queue and lifecycle.
"""
